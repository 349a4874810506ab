# e3 bench links: the PCIe-ring and ZeroMQ links between two processes, beside the bare ring and
# bare DEALER/ROUTER sockets measured in the same run.
e3_add_bench(links SOURCES ${CMAKE_CURRENT_LIST_DIR}/links.cpp LIBS e3_transport_pcie e3_transport_zmq)
