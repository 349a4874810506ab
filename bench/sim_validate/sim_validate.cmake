# e3 bench sim-validate: the simulator against the live runtime (`e3 run`, as a subprocess) on
# the same apps, cluster and load (issue 6: within 20 %).
e3_add_bench(sim-validate SOURCES ${CMAKE_CURRENT_LIST_DIR}/sim_validate.cpp LIBS e3_sim e3_apps CLI11::CLI11)
