# cpack -G DEB (make package): two Debian packages, as Debian splits a library.
#   pgpulse         the binary, /etc/pgpulse/pgpulse.toml (a conffile) and pgpulse.service
#   libpgpulse-dev  libpgpulse.a, include/pgpulse, the CMake package and pgpulse.pc
# The library is static, so it is a build-time dependency only: a server gets no headers, and
# an application's build gets no daemon. Configure with -DCMAKE_INSTALL_PREFIX=/usr and the
# paths below (the Makefile's `package` target does).

# Where systemd looks for units of packages: /lib/systemd/system on Debian 12.
set(PGPULSE_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE PATH
    "Directory of pgpulse.service (relative: under the install prefix)")

configure_file(packaging/pgpulse.toml.in ${PROJECT_BINARY_DIR}/packaging/pgpulse.toml @ONLY)
configure_file(packaging/pgpulse.service.in ${PROJECT_BINARY_DIR}/packaging/pgpulse.service @ONLY)
# /etc for the prefix /usr (GNUInstallDirs says so), else under the prefix, relative, so that
# `cmake --install --prefix` moves it too.
if(CMAKE_INSTALL_FULL_SYSCONFDIR STREQUAL "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SYSCONFDIR}")
  set(PGPULSE_CONFIG_DIR ${CMAKE_INSTALL_SYSCONFDIR}/pgpulse)
else()
  set(PGPULSE_CONFIG_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/pgpulse)
endif()
install(FILES ${PROJECT_BINARY_DIR}/packaging/pgpulse.toml DESTINATION ${PGPULSE_CONFIG_DIR}
        COMPONENT server)
install(FILES ${PROJECT_BINARY_DIR}/packaging/pgpulse.service
        DESTINATION ${PGPULSE_SYSTEMD_UNIT_DIR} COMPONENT server)
# The demo pages (`pgpulse serve --demo`), without the client library's own tests.
install(DIRECTORY web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/pgpulse/web COMPONENT server
        PATTERN test EXCLUDE PATTERN test-support EXCLUDE)

# The man page, and each package's /usr/share/doc: copyright and the Debian changelog,
# compressed as lintian expects (gzip -9n: no name or time stamp, for reproducible packages).
find_program(PGPULSE_GZIP gzip REQUIRED)
set(PGPULSE_DEBIAN_VERSION ${PROJECT_VERSION}-1)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS packaging/debian/changelog)
file(STRINGS packaging/debian/changelog PGPULSE_CHANGELOG_TOP LIMIT_COUNT 1)
if(NOT PGPULSE_CHANGELOG_TOP MATCHES "^pgpulse \\(${PGPULSE_DEBIAN_VERSION}\\) ")
  message(FATAL_ERROR "packaging/debian/changelog: its first entry must be for "
                      "${PGPULSE_DEBIAN_VERSION}, the version of project()")
endif()
configure_file(packaging/pgpulse.1.in ${PROJECT_BINARY_DIR}/packaging/pgpulse.1 @ONLY)
set(PGPULSE_MAN_GZ ${PROJECT_BINARY_DIR}/packaging/pgpulse.1.gz)
set(PGPULSE_CHANGELOG_GZ ${PROJECT_BINARY_DIR}/packaging/changelog.Debian.gz)
add_custom_command(OUTPUT ${PGPULSE_MAN_GZ} ${PGPULSE_CHANGELOG_GZ}
  COMMAND ${PGPULSE_GZIP} -9n -c ${PROJECT_BINARY_DIR}/packaging/pgpulse.1 > ${PGPULSE_MAN_GZ}
  COMMAND ${PGPULSE_GZIP} -9n -c ${PROJECT_SOURCE_DIR}/packaging/debian/changelog
          > ${PGPULSE_CHANGELOG_GZ}
  DEPENDS ${PROJECT_BINARY_DIR}/packaging/pgpulse.1
          ${PROJECT_SOURCE_DIR}/packaging/debian/changelog VERBATIM)
add_custom_target(pgpulse_package_docs ALL DEPENDS ${PGPULSE_MAN_GZ} ${PGPULSE_CHANGELOG_GZ})
install(FILES ${PGPULSE_MAN_GZ} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT server)
install(FILES packaging/debian/pgpulse.lintian-overrides DESTINATION
        ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME pgpulse COMPONENT server)
install(FILES packaging/debian/libpgpulse-dev.lintian-overrides DESTINATION
        ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME libpgpulse-dev COMPONENT dev)
foreach(pair IN ITEMS server:pgpulse dev:libpgpulse-dev)
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 component)
  list(GET pair 1 package)
  install(FILES packaging/debian/copyright ${PGPULSE_CHANGELOG_GZ}
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package} COMPONENT ${component})
endforeach()

set(CPACK_PACKAGE_NAME pgpulse)
set(CPACK_PACKAGE_VENDOR "pgpulse maintainers")
set(CPACK_PACKAGE_CONTACT "pgpulse maintainers <maintainers@users.noreply.r-seed-fa28befa.example>")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_COMPONENTS_ALL server dev)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)  # as in PGPULSE_DEBIAN_VERSION
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends from the binary's libraries (dpkg-shlibdeps), plus what the scripts use.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# The binary without its symbol table (static libraries keep theirs: CMake strips no archive).
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME pgpulse)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION net)
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser")
set(CPACK_COMPONENT_SERVER_DESCRIPTION
  "PostgreSQL row changes as real-time WebSocket and SSE events
pgpulse turns committed row changes of PostgreSQL tables (captured by triggers
into a change log, with NOTIFY wake-ups) into real-time events: `pgpulse
watch` prints them as JSON lines, `pgpulse serve` is a gateway that streams
them to browsers and applications over WebSocket and Server-Sent Events, with
token authentication, row filters and resumption from a cursor.

This package contains the pgpulse program, its configuration file
/etc/pgpulse/pgpulse.toml and the systemd unit pgpulse.service.")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles
  ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
  ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
  ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libpgpulse-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# What a program linked with the static libpgpulse needs to build (pgpulse::pgpulse and
# pgpulse.pc name them): Boost's headers (Asio) and Boost.JSON, libpq.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libboost${PGPULSE_BOOST_VERSION}-dev, libboost-json${PGPULSE_BOOST_VERSION}-dev, libpq-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "C++ library of pgpulse: PostgreSQL row changes as events
pgpulse turns committed row changes of PostgreSQL tables (captured by triggers
into a change log, with NOTIFY wake-ups) into events. Its C++20 library runs
on a Boost.Asio io_context: a lossless ChangeStream that resumes from a
cursor, and a Listener of NOTIFY channels.

This package contains the static library, its headers, a CMake package
(find_package(pgpulse CONFIG), target pgpulse::pgpulse) and a pkg-config file.")

include(CPack)
