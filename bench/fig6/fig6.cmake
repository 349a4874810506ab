# e3 bench fig6: HCM vs simulated annealing vs ILP on the 8 apps, modelled (Fig. 6, §5.4).
e3_add_bench(fig6 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fig6.cpp ${CMAKE_CURRENT_LIST_DIR}/compare.cpp
             LIBS e3_apps e3_scheduler_baselines CLI11::CLI11)
