# e3 bench api_gateway: the gateway's request path against raw OpenSSL HMAC-SHA256, same run.
e3_add_bench(api_gateway SOURCES ${CMAKE_CURRENT_LIST_DIR}/api_gateway.cpp LIBS e3_svc_api_gateway OpenSSL::Crypto)
