# mvit_add_gtest(<name> SOURCES <cpp>... [CUDA_SOURCES <cu>...] [LIBS <lib>...] LABELS <label>...
#                [ORDERS forward reverse random])
#
# One GoogleTest executable; every test case becomes a ctest test carrying LABELS. In the emulated
# build each case is registered once per thread order in ORDERS (default: forward and reverse;
# forward only in the sanitizer build), as
# "<order>/<Suite>.<Case>", with MVIT_EMU_THREAD_ORDER set accordingly, so every kernel test runs
# under at least two schedules (threads within a block and the blocks of a launch, Note [block
# order] in emulator/src/worker_pool.cpp). The reverse order also fills fresh memory with the
# large-finite poison instead of NaN (MVIT_EMU_POISON=finite, Note [poison] in
# emulator/src/config.cpp), so a read of unwritten memory that fmaxf or a comparison hides from
# NaN still changes a result in one of the two runs. Cases whose name contains "Full" are slow:
# their label ends in `_full` (below), and CI leaves them out (ctest -LE full).
function(mvit_add_gtest name)
  cmake_parse_arguments(T "" "" "SOURCES;CUDA_SOURCES;LIBS;LABELS;ORDERS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  if(T_CUDA_SOURCES)
    mvit_cuda_sources(${name} PRIVATE ${T_CUDA_SOURCES})
  endif()
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  if(MVIT_EMULATED)
    set_target_properties(${name} PROPERTIES ENABLE_EXPORTS ON)
  endif()
  if(NOT T_ORDERS)
    set(T_ORDERS forward reverse)
    # The sanitizer build looks for memory errors, which do not depend on the schedule; the plain
    # emulated build already runs every case under both orders and both poisons. One order there
    # halves the slowest part of CI (ASan runs the kernels ~5x slower).
    if(MVIT_SANITIZE)
      set(T_ORDERS forward)
    endif()
  endif()
  if(NOT MVIT_EMULATED)
    set(T_ORDERS forward)
  endif()
  # gtest_discover_tests flattens its PROPERTIES through several list expansions, so a
  # list-valued LABELS ("kernels;gpu", "kernels;full") falls apart into separate arguments and no
  # escaping survives. Each test therefore gets ONE label joining them ("kernels_gpu",
  # "kernels_gpu_full"): ctest's -L/-LE take regular expressions, so `-L gpu`, `-L kernels` select
  # them and `-LE full` leaves the Full ones out.
  string(REPLACE ";" "_" joined_labels "${T_LABELS}")
  set(full_label "${joined_labels}_full")
  foreach(order IN LISTS T_ORDERS)
    set(prefix "")
    if(MVIT_EMULATED)
      set(prefix "${order}/")
    endif()
    set(poison nan)
    if(order STREQUAL "reverse")
      set(poison finite)
    endif()
    # Two properties, one variable each: gtest_discover_tests splits a list-valued ENVIRONMENT
    # into separate arguments, and the second would be taken for a property name.
    gtest_discover_tests(${name} TEST_PREFIX "${prefix}" TEST_FILTER "-*Full*"
      DISCOVERY_TIMEOUT 120
      PROPERTIES LABELS "${joined_labels}" ENVIRONMENT "MVIT_EMU_THREAD_ORDER=${order}"
                 ENVIRONMENT_MODIFICATION "MVIT_EMU_POISON=set:${poison}")
    gtest_discover_tests(${name} TEST_PREFIX "${prefix}" TEST_FILTER "*Full*"
      DISCOVERY_TIMEOUT 120
      PROPERTIES LABELS "${full_label}" ENVIRONMENT "MVIT_EMU_THREAD_ORDER=${order}"
                 ENVIRONMENT_MODIFICATION "MVIT_EMU_POISON=set:${poison}")
  endforeach()
endfunction()
