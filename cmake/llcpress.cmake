# Test executables that scripts/test.sh rebuilds and runs under ASan + UBSan.
add_custom_target(llcpress_sanitized_tests)

# Helpers shared by every module's CMakeLists.

# llcpress_module(NAME SOURCES... DEPENDS targets...)
# One static library per src/ module, named llcpress_<NAME>.
function(llcpress_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  if(ARG_SOURCES)
    add_library(llcpress_${name} STATIC ${ARG_SOURCES})
    target_include_directories(llcpress_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(llcpress_${name} PUBLIC llcpress_flags ${ARG_DEPENDS})
  else()
    add_library(llcpress_${name} INTERFACE)
    target_include_directories(llcpress_${name} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(llcpress_${name} INTERFACE llcpress_flags ${ARG_DEPENDS})
  endif()
endfunction()

# llcpress_test(NAME SOURCES... DEPENDS targets... [MPI n] [LABELS ...])
# A GoogleTest executable registered with CTest. With MPI n the whole binary
# runs under mpiexec -n n (root and oversubscribe allowed, REFERENCE §6).
function(llcpress_test name)
  cmake_parse_arguments(ARG "" "MPI" "SOURCES;DEPENDS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPENDS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    LLCPRESS_SOURCE_DIR="${PROJECT_SOURCE_DIR}" LLCPRESS_FIXTURE_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures")
  if(ARG_MPI)
    add_test(NAME ${name}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${ARG_MPI} --oversubscribe
                     $<TARGET_FILE:${name}>)
    set_tests_properties(${name} PROPERTIES
      ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1"
      PROCESSORS ${ARG_MPI} LABELS "mpi;${ARG_LABELS}")
  else()
    # gtest_discover_tests passes PROPERTIES through a flat list, which keeps
    # only the first of several labels; set them from an include file instead.
    gtest_discover_tests(${name} TEST_LIST ${name}_TESTS DISCOVERY_TIMEOUT 120)
    file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake
         "set_tests_properties(\${${name}_TESTS} PROPERTIES LABELS \"${ARG_LABELS}\")\n")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake)
  endif()
  # Tests labelled "sanitize" also run in the ASan/UBSan configuration (scripts/test.sh).
  if("sanitize" IN_LIST ARG_LABELS)
    add_dependencies(llcpress_sanitized_tests ${name})
  endif()
endfunction()
