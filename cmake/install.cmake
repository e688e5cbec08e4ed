# cmake --install: the `pgpulse` binary; the library, its public headers, a CMake package
# (find_package(pgpulse CONFIG) -> pgpulse::pgpulse) and a pkg-config file for programs that
# embed it. pgpulse_hub and pgpulse_gateway are linked into the binary and not installed.
include(CMakePackageConfigHelpers)

set(PGPULSE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/pgpulse)

install(TARGETS pgpulse_cli RUNTIME COMPONENT server)
install(TARGETS pgpulse EXPORT pgpulseTargets
  ARCHIVE COMPONENT dev
  LIBRARY COMPONENT dev
  FILE_SET HEADERS COMPONENT dev)
install(EXPORT pgpulseTargets NAMESPACE pgpulse:: DESTINATION ${PGPULSE_CMAKE_DIR}
        COMPONENT dev)

# A static libpgpulse brings Boost.JSON (and libpq, through PostgreSQL::PostgreSQL) to the
# consumer's link; a shared one only needs Boost's headers.
get_target_property(PGPULSE_TYPE pgpulse TYPE)
if(PGPULSE_TYPE STREQUAL "STATIC_LIBRARY")
  set(PGPULSE_STATIC TRUE)
  set(PGPULSE_BOOST_STATIC_COMPONENTS " json")
else()
  set(PGPULSE_STATIC FALSE)
  set(PGPULSE_BOOST_STATIC_COMPONENTS "")
endif()
configure_package_config_file(cmake/pgpulseConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/pgpulseConfig.cmake INSTALL_DESTINATION ${PGPULSE_CMAKE_DIR})
# 0.x: every minor version may break the API, so only the same major.minor is compatible.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(PGPULSE_COMPATIBILITY SameMinorVersion)
else()
  set(PGPULSE_COMPATIBILITY SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/pgpulseConfigVersion.cmake
  COMPATIBILITY ${PGPULSE_COMPATIBILITY})
install(FILES ${PROJECT_BINARY_DIR}/cmake/pgpulseConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/pgpulseConfigVersion.cmake
        DESTINATION ${PGPULSE_CMAKE_DIR} COMPONENT dev)

# pkg-config: `pkg-config --cflags --libs pgpulse` must link as it is (no --static needed),
# so a static libpgpulse lists what it was linked with in Libs and Requires.
if(NOT PGPULSE_STATIC)
  set(PGPULSE_PC_REQUIRES "Requires.private: libpq")
  set(PGPULSE_PC_LIBS "")
  set(PGPULSE_PC_LIBS_PRIVATE "Libs.private: -lboost_json -pthread")
else()
  set(PGPULSE_PC_REQUIRES "Requires: libpq")
  set(PGPULSE_PC_LIBS "-lboost_json -pthread")
  set(PGPULSE_PC_LIBS_PRIVATE "")
endif()
# The prefix relative to the .pc file, so `cmake --install build --prefix DIR` gives a
# correct one too; /usr (the Debian package) is never moved, and -I/usr/include is dropped by
# pkg-config as a system directory only when written so.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(PGPULSE_PC_PREFIX /usr)
else()
  file(RELATIVE_PATH PGPULSE_PC_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig
       ${CMAKE_INSTALL_PREFIX})
  string(REGEX REPLACE "/$" "" PGPULSE_PC_PREFIX "\${pcfiledir}/${PGPULSE_PC_PREFIX}")
endif()
configure_file(cmake/pgpulse.pc.in ${PROJECT_BINARY_DIR}/pgpulse.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/pgpulse.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT dev)
