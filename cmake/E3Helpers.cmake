# Helpers every component uses: compile flags, libraries, tests, benchmarks, embedded data.

set(E3_WARNINGS -Wall -Wextra)
# g++ 12 at -O3 reports false -Wrestrict positives inside std::string's operator+ (GCC bug
# 105651); the warning says nothing about our code there.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND E3_WARNINGS -Wno-restrict)
endif()
if(E3_WERROR)
  list(APPEND E3_WARNINGS -Werror)
endif()

if(E3_SANITIZE)
  add_compile_options(-fsanitize=${E3_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${E3_SANITIZE})
  # g++ 12's flow analysis on sanitizer-instrumented code reports false -Wmaybe-uninitialized
  # inside libstdc++ (<regex>'s std::function states); the Release build keeps the warning.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    list(APPEND E3_WARNINGS -Wno-maybe-uninitialized)
  endif()
endif()

# e3_component_flags(<target>): warnings and the repository root on the include path, so
# headers are named by folder: #include "topology/topology.hpp".
function(e3_component_flags target)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR})
  else()
    target_compile_options(${target} PRIVATE ${E3_WARNINGS})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  endif()
endfunction()

# e3_add_library(<name> SOURCES ... [LIBS ...]): one static library of a component.
function(e3_add_library name)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  e3_component_flags(${name})
  if(A_LIBS)
    target_link_libraries(${name} PUBLIC ${A_LIBS})
  endif()
endfunction()

# e3_add_executable(<name> SOURCES ... [LIBS ...]): a program in build/bin.
function(e3_add_executable name)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  e3_component_flags(${name})
  target_link_libraries(${name} PRIVATE ${A_LIBS})
endfunction()

# e3_add_test(<name> SOURCES ... [LIBS ...] [LABELS ...] [TIMEOUT s]): a GoogleTest suite,
# registered test by test with CTest. Labels: `soak` and `scale` are left out of the default run.
include(GoogleTest)
function(e3_add_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  add_executable(${name} ${A_SOURCES})
  e3_component_flags(${name})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${A_LIBS} GTest::gtest_main GTest::gmock)
  # Paths relative to the repository root, where CTest runs every test: no absolute path in the
  # compile command, so ccache (CCACHE_BASEDIR) hits from any clone.
  target_compile_definitions(${name} PRIVATE E3_TEST_DATA_DIR="tests/data" E3_SOURCE_DIR=".")
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      PROPERTIES TIMEOUT ${A_TIMEOUT})
  # Labels are set after discovery, on every discovered test: gtest_discover_tests would split
  # a list of several labels into separate arguments.
  set(labels_file ${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake)
  file(WRITE ${labels_file}
    "foreach(t IN LISTS ${name}_TESTS)\n"
    "  set_tests_properties(\"\${t}\" PROPERTIES LABELS \"${A_LABELS}\")\n"
    "endforeach()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${labels_file})
endfunction()

# e3_embed_text(<target> <symbol> <file>): compiles <file> into <target> as
# `extern const std::string_view <symbol>` (namespace e3::embedded), so data ships in the binary.
function(e3_embed_text target symbol file)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/embedded_${symbol}.cpp)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${file})
  file(READ ${file} content)
  string(LENGTH "${content}" len)
  # Split into chunks: compilers cap a single string literal's length.
  set(body "")
  set(pos 0)
  while(pos LESS len)
    string(SUBSTRING "${content}" ${pos} 8000 chunk)
    string(APPEND body "R\"e3embed(${chunk})e3embed\"\n")
    math(EXPR pos "${pos} + 8000")
  endwhile()
  if(len EQUAL 0)
    set(body "\"\"")
  endif()
  file(WRITE ${out}.tmp
"// Generated from ${file} by e3_embed_text; do not edit.
#include <string_view>
namespace e3::embedded {
extern const std::string_view ${symbol};
static const char ${symbol}_data[] =
${body};
const std::string_view ${symbol}{${symbol}_data, sizeof(${symbol}_data) - 1};
}  // namespace e3::embedded
")
  file(COPY_FILE ${out}.tmp ${out} ONLY_IF_DIFFERENT)
  target_sources(${target} PRIVATE ${out})
endfunction()
