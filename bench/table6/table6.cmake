# e3 bench table6: placement time per microservice, HCM vs simulated annealing vs ILP (Table 6).
e3_add_bench(table6 SOURCES ${CMAKE_CURRENT_LIST_DIR}/table6.cpp LIBS e3_apps e3_scheduler_baselines CLI11::CLI11)
