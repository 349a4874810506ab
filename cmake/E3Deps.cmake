# Finds every third-party dependency of E3 (Debian 12 packages, see scripts/setup.sh) and
# exposes each as an imported target, so components only name targets.

find_package(Threads REQUIRED)

# CAF 0.17 ships neither a CMake config nor a pkg-config file.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
find_library(CAF_IO_LIBRARY caf_io REQUIRED)
add_library(caf::core SHARED IMPORTED)
set_target_properties(caf::core PROPERTIES IMPORTED_LOCATION ${CAF_CORE_LIBRARY}
                      INTERFACE_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR}
                      INTERFACE_LINK_LIBRARIES Threads::Threads)
add_library(caf::io SHARED IMPORTED)
set_target_properties(caf::io PROPERTIES IMPORTED_LOCATION ${CAF_IO_LIBRARY}
                      INTERFACE_LINK_LIBRARIES caf::core)

find_package(cppzmq REQUIRED)                       # target cppzmq
find_package(PkgConfig REQUIRED)
pkg_check_modules(DPDK REQUIRED IMPORTED_TARGET libdpdk)   # PkgConfig::DPDK, transport_dpdk only
find_package(RocksDB REQUIRED)                      # RocksDB::rocksdb-shared
find_package(Boost 1.74 REQUIRED)                   # Boost::headers
find_package(GTest REQUIRED)                        # GTest::gtest_main
find_package(benchmark REQUIRED)                    # benchmark::benchmark
find_package(OpenSSL REQUIRED)                      # OpenSSL::Crypto
find_package(yaml-cpp REQUIRED)                     # yaml-cpp
find_package(CLI11 REQUIRED)                        # CLI11::CLI11
find_package(spdlog REQUIRED)                       # spdlog::spdlog
find_package(nlohmann_json REQUIRED)                # nlohmann_json::nlohmann_json
find_package(SQLite3 REQUIRED)                      # SQLite::SQLite3
find_package(ZLIB REQUIRED)                         # ZLIB::ZLIB

# GLPK has no CMake config.
find_path(GLPK_INCLUDE_DIR glpk.h REQUIRED)
find_library(GLPK_LIBRARY glpk REQUIRED)
add_library(glpk::glpk SHARED IMPORTED)
set_target_properties(glpk::glpk PROPERTIES IMPORTED_LOCATION ${GLPK_LIBRARY}
                      INTERFACE_INCLUDE_DIRECTORIES ${GLPK_INCLUDE_DIR})
