# e3 bench ipsec: ESP encapsulation/decapsulation against raw OpenSSL EVP doing the same crypto,
# interleaved in the same run, at 64…1500 B.
e3_add_bench(ipsec SOURCES ${CMAKE_CURRENT_LIST_DIR}/ipsec.cpp LIBS e3_svc_ipsec OpenSSL::Crypto)
