# e3 bench fig11: orchestrator decision time vs cluster size up to 50 K SmartNICs (Fig. 11), from
# heartbeats carried and queued in the simulator and digested by the real orchestrator.
e3_add_bench(fig11 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fig11.cpp LIBS e3_sim e3_apps CLI11::CLI11)
