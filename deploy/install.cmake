# deploy/install.cmake: runs at `cmake --install` time (included from CMakeLists.txt's install
# block) to install the systemd unit, sysusers.d and tmpfiles.d files and the configuration with
# the paths of *this* install: `cmake --install build --prefix /usr` gives a unit that names
# /usr/bin/tenderpoold and /etc/tenderpool even when the build was configured for /usr/local.
# It must not touch anything outside $DESTDIR + the install prefix and the system directories
# computed below, and must never overwrite an existing configuration file.
#
# Set by the caller: TP_SRC (source dir), TP_GEN (a build-tree dir for generated files),
# TP_REL_BINDIR, TP_REL_LIBEXECDIR, TP_REL_DATADIR (relative to the prefix, or absolute),
# TP_CONFIGURED_PREFIX,
# TP_CONFIGURED_SQL_DIR, TP_PKG_UNITDIR (pkg-config's systemdsystemunitdir, may be empty),
# TP_SYSTEMD_UNITDIR, TP_SYSUSERSDIR, TP_TMPFILESDIR (overrides, may be empty).

set(_prefix "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/+$" "" _prefix "${_prefix}")

# GNUInstallDirs' rule, applied to the install-time prefix.
function(tp_full_dir out rel)
  if(IS_ABSOLUTE "${rel}")
    set(${out} "${rel}" PARENT_SCOPE)
  else()
    set(${out} "${_prefix}/${rel}" PARENT_SCOPE)
  endif()
endfunction()

tp_full_dir(TP_UNIT_BINDIR "${TP_REL_BINDIR}")
tp_full_dir(_libexecdir "${TP_REL_LIBEXECDIR}")
tp_full_dir(_datadir "${TP_REL_DATADIR}")
set(TP_UNIT_WORKER "${_libexecdir}/tenderpool/tenderpool-worker")

# The system-wide files: /etc and pkg-config's unit directory for a /usr (or /) install, the
# prefix's own etc/ and lib/systemd/system otherwise (systemd reads /usr/local/lib/systemd/system,
# /usr/local/lib/sysusers.d and /usr/local/lib/tmpfiles.d too).
if(_prefix STREQUAL "/usr" OR _prefix STREQUAL "")
  set(TP_UNIT_SYSCONFDIR "/etc")
  set(_unitdir "${TP_PKG_UNITDIR}")
  if(NOT _unitdir)
    set(_unitdir "/lib/systemd/system")
  endif()
  set(_sysusersdir "/usr/lib/sysusers.d")
  set(_tmpfilesdir "/usr/lib/tmpfiles.d")
else()
  set(TP_UNIT_SYSCONFDIR "${_prefix}/etc")
  set(_unitdir "${_prefix}/lib/systemd/system")
  set(_sysusersdir "${_prefix}/lib/sysusers.d")
  set(_tmpfilesdir "${_prefix}/lib/tmpfiles.d")
endif()
if(TP_SYSTEMD_UNITDIR)
  set(_unitdir "${TP_SYSTEMD_UNITDIR}")
endif()
if(TP_SYSUSERSDIR)
  set(_sysusersdir "${TP_SYSUSERSDIR}")
endif()
if(TP_TMPFILESDIR)
  set(_tmpfilesdir "${TP_TMPFILESDIR}")
endif()

file(MAKE_DIRECTORY "${TP_GEN}")
configure_file("${TP_SRC}/deploy/tenderpoold.service.in" "${TP_GEN}/tenderpoold.service" @ONLY)
configure_file("${TP_SRC}/deploy/tenderpool.tmpfiles.in" "${TP_GEN}/tenderpool.tmpfiles" @ONLY)
file(INSTALL DESTINATION "${_unitdir}" TYPE FILE FILES "${TP_GEN}/tenderpoold.service")
file(INSTALL DESTINATION "${_sysusersdir}" TYPE FILE RENAME tenderpool.conf
     FILES "${TP_SRC}/deploy/tenderpool.sysusers")
file(INSTALL DESTINATION "${_tmpfilesdir}" TYPE FILE RENAME tenderpool.conf
     FILES "${TP_GEN}/tenderpool.tmpfiles")

# The configuration: the example with every key, its secret key pointing at the credential the
# unit passes (tenderpoold.conf cannot expand $CREDENTIALS_DIRECTORY). An existing file is the
# operator's and stays as it is.
set(_confdir "${TP_UNIT_SYSCONFDIR}/tenderpool")
set(_conf "$ENV{DESTDIR}${_confdir}/tenderpoold.conf")
if(EXISTS "${_conf}")
  message(STATUS "Keeping: ${_conf} (the new example is tenderpoold.conf.example in the docdir)")
else()
  file(READ "${TP_SRC}/deploy/tenderpoold.conf" _text)
  string(REGEX REPLACE "\nsecret_key_file = [^\n]*"
         "\nsecret_key_file = /run/credentials/tenderpoold.service/server.key_secret" _new "${_text}")
  if(_new STREQUAL _text)
    message(FATAL_ERROR "deploy/tenderpoold.conf has no 'secret_key_file = ' line to point at "
                        "the unit's credential: update deploy/install.cmake")
  endif()
  file(WRITE "${TP_GEN}/tenderpoold.conf" "${_new}")
  file(INSTALL DESTINATION "${_confdir}" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
       FILES "${TP_GEN}/tenderpoold.conf")
endif()

# Paths compiled into the binaries follow the configure-time prefix, not --prefix.
if(NOT _prefix STREQUAL TP_CONFIGURED_PREFIX)
  message(WARNING "tenderpool was configured for ${TP_CONFIGURED_PREFIX} and is installed into "
                  "${_prefix}: the unit names the installed worker (TENDERPOOL_WORKER), but "
                  "'tenderpool migrate' looks for its SQL in ${TP_CONFIGURED_SQL_DIR} (or the "
                  "source tree): give it --sql-dir ${_datadir}/tenderpool/sql, or configure "
                  "with -DCMAKE_INSTALL_PREFIX=${_prefix}")
endif()
