# e3_bench_cluster_model: what e3 bench table5, fig5, fig8 and fig9 share (an app placed by HCM at
# the peak load a cluster carries, its evaluation, cost curve, Fig. 9's port model, SVG bars/panels).
e3_add_library(e3_bench_cluster_model SOURCES ${CMAKE_CURRENT_LIST_DIR}/cluster_model.cpp
               LIBS e3_sim e3_apps e3_scheduler e3_topology)
