#!/usr/bin/env bash
# build-worker.sh — build the mediasoup C++ worker (mediasoup-worker) on
# Debian 12 (bookworm) WITHOUT internet: only the npm registry (via npm) and
# Debian's apt mirror are used. No GitHub, no wrapdb, no PyPI.
#
# How: mediasoup's meson build wants to download its C/C++ deps as meson
# subprojects (openssl, libuv, libsrtp3, usrsctp, abseil, flatbuffers, catch2,
# liburing). We delete the .wrap files and put small "stub" subprojects in
# worker/subprojects/<name>/ that wrap Debian's system libraries via
# pkg-config (dependency()). libsrtp3 (versatica fork) is provided by a C++
# header shim over libsrtp2 2.5 (see docs/mediasoup-offline.md); libsrtp2 itself
# is built from Debian's source package (`apt-get source`, needs a deb-src line:
# added for the machine's own Debian mirror when missing) against OpenSSL and
# linked statically: Debian's binary libsrtp2 uses NSS, whose per-packet cost
# grows with the number of SRTP sessions. io_uring is on: Debian's liburing 2.3
# (static) plus a compat header with the three helpers mediasoup needs from 2.4.
# mediasoup's "meson_version: >= 1.1.0" is relaxed to Debian's meson 1.0.1.
# src/RTC/DtlsTransport.cpp gets a small REQUIRED patch: with Debian's
# kTLS-enabled OpenSSL the unpatched worker SIGSEGVs at the first DTLS
# handshake (details in docs/mediasoup-offline.md). Both patches are saved next to the binary
# in <cache>/<version>/recipe/mediasoup-source.patch.
#
# Usage:
#   build-worker.sh [VERSION | PATH_TO_MEDIASOUP_PKG_DIR] [--install]
#     VERSION        mediasoup version to fetch with `npm pack` (default 3.19.3)
#     PKG_DIR        an unpacked mediasoup package, e.g. node_modules/mediasoup
#                    (its version is read from its package.json; nothing is
#                    fetched from the registry)
#     --install      (only with PKG_DIR) also copy the binary to
#                    PKG_DIR/worker/out/Release/mediasoup-worker, the path the
#                    mediasoup Node lib uses when MEDIASOUP_WORKER_BIN is unset.
#
# Prints ONLY the absolute path of the cached binary on stdout (logs go to
# stderr), so:   export MEDIASOUP_WORKER_BIN="$(bash build-worker.sh 3.19.3)"
#
# Environment:
#   MEDIASOUP_WORKER_CACHE  cache root (default ${XDG_CACHE_HOME:-~/.cache}/mediasoup-worker)
#                           binary goes to <root>/<version>/mediasoup-worker
#   MS_FORCE_REBUILD=1      ignore a cached binary
#   MS_SKIP_APT=1           never call apt-get (fail if packages are missing)
#   MS_BUILD_JOBS=N         parallel compile jobs (default: nproc)
#   MS_MESON_ARGS="..."     extra meson setup args (e.g. -Dms_log_trace=true)
#   MS_KEEP_WORKDIR=1       keep the temporary build directory (debugging)
#   MS_SRTP_BACKEND=openssl libsrtp2 from Debian's source package on OpenSSL (default)
#                  =debian-nss  Debian's binary libsrtp2 (NSS), the r2 recipe
#   MS_LIBURING=1|0         build with io_uring (default 1)
#   (the two options are part of the cache key: a cached binary built with
#   other values is rebuilt; for experiments use a separate MEDIASOUP_WORKER_CACHE)
#
# Idempotent: a cached binary is reused if it was built by this same recipe
# revision and still starts (exit code 41 = "missing MEDIASOUP_VERSION env",
# the same health check mediasoup's own npm-scripts.mjs uses).

set -Eeuo pipefail

RECIPE_REV="debian12-sysdeps-r3"
DEFAULT_VERSION="3.19.3"

log() { printf '[build-worker] %s\n' "$*" >&2; }
die() { printf '[build-worker] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- arguments --
ARG=""
DO_INSTALL=0
for a in "$@"; do
	case "$a" in
		--install) DO_INSTALL=1 ;;
		-h|--help) sed -n '2,52p' "$0" >&2; exit 0 ;;
		-*) die "unknown option: $a" ;;
		*) [ -z "$ARG" ] || die "only one VERSION or PKG_DIR argument allowed"; ARG="$a" ;;
	esac
done
ARG="${ARG:-$DEFAULT_VERSION}"

PKG_DIR=""
if [ -d "$ARG" ]; then
	PKG_DIR="$(cd "$ARG" && pwd)"
	[ -f "$PKG_DIR/package.json" ] && [ -f "$PKG_DIR/worker/meson.build" ] \
		|| die "$PKG_DIR is not a mediasoup package directory (need package.json and worker/meson.build)"
	MS_VERSION="$(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$PKG_DIR/package.json" | head -n1)"
	NAME="$(sed -n 's/^[[:space:]]*"name":[[:space:]]*"\([^"]*\)".*/\1/p' "$PKG_DIR/package.json" | head -n1)"
	[ "$NAME" = "mediasoup" ] || die "$PKG_DIR/package.json is not the mediasoup package (name=$NAME)"
	[ -n "$MS_VERSION" ] || die "cannot read version from $PKG_DIR/package.json"
else
	[ "$DO_INSTALL" = 0 ] || die "--install needs a PKG_DIR argument (e.g. node_modules/mediasoup)"
	MS_VERSION="$ARG"
	[[ "$MS_VERSION" =~ ^3\.[0-9]+\.[0-9]+$ ]] || die "expected an exact mediasoup 3.x.y version, got '$MS_VERSION'"
fi

SRTP_BACKEND="${MS_SRTP_BACKEND:-openssl}"
case "$SRTP_BACKEND" in openssl|debian-nss) ;; *) die "MS_SRTP_BACKEND must be openssl or debian-nss" ;; esac
LIBURING="${MS_LIBURING:-1}"
case "$LIBURING" in 0|1) ;; *) die "MS_LIBURING must be 0 or 1" ;; esac
RECIPE_ID="$RECIPE_REV srtp=$SRTP_BACKEND liburing=$LIBURING"

CACHE_ROOT="${MEDIASOUP_WORKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mediasoup-worker}"
OUT_DIR="$CACHE_ROOT/$MS_VERSION"
BIN="$OUT_DIR/mediasoup-worker"
INFO="$OUT_DIR/BUILD-INFO"

SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 && SUDO="sudo"
fi

# ------------------------------------------------------------------ helpers --
BUILD_PKGS=(g++ pkg-config python3 meson ninja-build
	libssl-dev libuv1-dev libusrsctp-dev libabsl-dev
	libflatbuffers-dev flatbuffers-compiler)
# Shared libs the (mostly statically linked) binary still needs at run time.
RUNTIME_PKGS=(libssl3 libstdc++6)
if [ "$SRTP_BACKEND" = debian-nss ]; then
	BUILD_PKGS+=(libsrtp2-dev); RUNTIME_PKGS+=(libsrtp2-1)
fi
[ "$LIBURING" = 0 ] || BUILD_PKGS+=(liburing-dev)

missing_pkgs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed || printf '%s\n' "$p"
	done
}

ensure_pkgs() {
	local missing
	mapfile -t missing < <(missing_pkgs "$@")
	[ "${#missing[@]}" -eq 0 ] && return 0
	[ "${MS_SKIP_APT:-0}" = 1 ] && die "missing Debian packages (MS_SKIP_APT=1): ${missing[*]}"
	log "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
		log "apt-get install failed; running apt-get update and retrying"
		$SUDO apt-get update >&2
		$SUDO apt-get install -y --no-install-recommends "${missing[@]}" >&2
	fi
}

worker_ok() { # $1 = binary; healthy binary exits 41 without MEDIASOUP_VERSION
	local rc=0
	[ -x "$1" ] || return 1
	env -i "$1" >/dev/null 2>&1 </dev/null || rc=$?
	[ "$rc" = 41 ]
}

install_into_pkg() {
	[ "$DO_INSTALL" = 1 ] || return 0
	local dest="$PKG_DIR/worker/out/Release"
	mkdir -p "$dest"
	cp -f "$BIN" "$dest/mediasoup-worker.tmp.$$"
	chmod 0755 "$dest/mediasoup-worker.tmp.$$"
	mv -f "$dest/mediasoup-worker.tmp.$$" "$dest/mediasoup-worker"
	log "installed copy at $dest/mediasoup-worker"
}

# --------------------------------------------------------------- cache hit? --
OS_CODENAME="$( (. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-unknown}") )"
[ "$OS_CODENAME" = bookworm ] || log "WARNING: recipe made for Debian 12 bookworm, this is '$OS_CODENAME'"

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock-$MS_VERSION"
flock 9   # serialize concurrent builds of the same version

if [ "${MS_FORCE_REBUILD:-0}" != 1 ] && [ -f "$INFO" ] && grep -qxF "recipe=$RECIPE_ID" "$INFO"; then
	ensure_pkgs "${RUNTIME_PKGS[@]}"
	if worker_ok "$BIN"; then
		log "cached: $BIN"
		install_into_pkg
		printf '%s\n' "$BIN"
		exit 0
	fi
	log "cached binary at $BIN does not start; rebuilding"
fi

# libsrtp2's Debian source package (orig tarball), cached in <cache root>/src/.
# `apt-get source` needs a deb-src line; when there is none, add one for the
# same Debian mirror and suite the machine's binary packages come from.
ensure_deb_src() {
	local site list=/etc/apt/sources.list.d/spyglass-debian-src.sources
	[ -f "$list" ] && return 0
	site="$(apt-get indextargets --format '$(SITE) $(RELEASE) $(TARGET_OF)' 'Created-By: Packages' 2>/dev/null \
		| awk -v rel="$OS_CODENAME" '$2 == rel && $3 == "deb" { print $1; exit }')"
	[ -n "$site" ] || die "no Debian '$OS_CODENAME' apt source found to derive a deb-src line from"
	[ "${MS_SKIP_APT:-0}" = 1 ] && die "apt-get source needs a deb-src line (MS_SKIP_APT=1); add: deb-src $site $OS_CODENAME main"
	log "adding deb-src $site $OS_CODENAME main ($list) and running apt-get update"
	printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
		"$site" "$OS_CODENAME" | $SUDO tee "$list" >/dev/null
	$SUDO apt-get update >&2
}

libsrtp2_orig_tarball() { # prints the path of libsrtp2_<ver>.orig.tar.gz
	local dir="$CACHE_ROOT/src/libsrtp2" tgz
	mkdir -p "$dir"
	tgz="$( (ls -1 "$dir"/libsrtp2_2.*.orig.tar.gz 2>/dev/null || true) | sort -V | tail -n1)"
	if [ -z "$tgz" ]; then
		if ! (cd "$dir" && apt-get source --download-only libsrtp2 >&2 2>"$dir/apt.log"); then
			grep -qi 'deb-src' "$dir/apt.log" || { cat "$dir/apt.log" >&2; die "apt-get source libsrtp2 failed"; }
			ensure_deb_src
			(cd "$dir" && apt-get source --download-only libsrtp2 >&2) || die "apt-get source libsrtp2 failed"
		fi
		tgz="$( (ls -1 "$dir"/libsrtp2_2.*.orig.tar.gz 2>/dev/null || true) | sort -V | tail -n1)"
		[ -n "$tgz" ] || die "apt-get source libsrtp2 gave no orig tarball in $dir"
	fi
	printf '%s\n' "$tgz"
}

# -------------------------------------------------------------------- build --
T0=$(date +%s)
ensure_pkgs "${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}"
SRTP_TGZ=""
[ "$SRTP_BACKEND" = openssl ] && SRTP_TGZ="$(libsrtp2_orig_tarball)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mediasoup-worker-build.XXXXXX")"
if [ "${MS_KEEP_WORKDIR:-0}" = 1 ]; then
	log "keeping work dir $WORK"
else
	trap 'rm -rf "$WORK"' EXIT
fi

if [ -z "$PKG_DIR" ]; then
	command -v npm >/dev/null 2>&1 || die "npm not found (needed to fetch mediasoup@$MS_VERSION; or pass a PKG_DIR)"
	log "npm pack mediasoup@$MS_VERSION"
	(cd "$WORK" && npm pack "mediasoup@$MS_VERSION" --silent >/dev/null) \
		|| die "npm pack mediasoup@$MS_VERSION failed"
	tar -xzf "$WORK/mediasoup-$MS_VERSION.tgz" -C "$WORK"
	SRC="$WORK/package"
else
	SRC="$PKG_DIR"
fi
[ -f "$SRC/worker/meson.build" ] || die "no worker/meson.build in $SRC"

# Copy only what the build needs (never modify node_modules in place).
mkdir -p "$WORK/src"
cp -a "$SRC/worker" "$WORK/src/worker"
W="$WORK/src/worker"
rm -rf "$W/out" "$W/prebuild" "$W/include/FBS"

# The set of subprojects this recipe knows how to replace.
KNOWN_WRAPS="abseil-cpp catch2 flatbuffers libsrtp3 liburing libuv openssl usrsctp wingetopt"
for wrap in "$W"/subprojects/*.wrap; do
	[ -e "$wrap" ] || continue
	n="$(basename "$wrap" .wrap)"
	case " $KNOWN_WRAPS " in
		*" $n "*) ;;
		*) die "mediasoup $MS_VERSION uses subproject '$n' that this recipe does not stub; update build-worker.sh" ;;
	esac
done
grep -q "'libsrtp3'" "$W/meson.build" \
	|| die "mediasoup $MS_VERSION does not use the libsrtp3 subproject; recipe made for 3.16.6+ (tested 3.19.3)"
rm -f "$W"/subprojects/*.wrap
rm -rf "$W"/subprojects/packagecache

S="$W/subprojects"
mkdir -p "$S"/{openssl,libuv,libsrtp3/include,usrsctp,abseil-cpp,catch2,flatbuffers,liburing}
for d in openssl libuv libsrtp3 usrsctp abseil-cpp catch2 flatbuffers liburing; do
	printf '/* placeholder: mediasoup link_whole()s a static lib per subproject */\nint ms_stub_%s_placeholder = 0;\n' \
		"$(printf '%s' "$d" | tr -c 'a-zA-Z0-9\n' '_')" > "$S/$d/stub.c"
done

cat > "$S/openssl/meson.build" <<'EOF'
# Stub: Debian's OpenSSL 3.0.x (libssl-dev), linked dynamically.
project('openssl', 'c', version: '3.0.system')
libcrypto_dep = dependency('libcrypto', version: '>=3.0.0')
libssl_dep = dependency('libssl', version: '>=3.0.0')
openssl_dep = declare_dependency(dependencies: [libssl_dep, libcrypto_dep])
# libsrtp2's dependency('openssl') falls back to this subproject by name.
meson.override_dependency('openssl', openssl_dep)
libcrypto_lib = static_library('ms_stub_libcrypto', 'stub.c')
libssl_lib = static_library('ms_stub_libssl', 'stub.c')
EOF

cat > "$S/libuv/meson.build" <<'EOF'
# Stub: Debian's libuv1-dev (1.44.x), static archive libuv_a.a.
project('libuv', 'c', version: '1.system')
libuv_dep = dependency('libuv-static', 'libuv', version: '>=1.44.0', static: true)
libuv = static_library('ms_stub_libuv', 'stub.c')
EOF
cat > "$S/libuv/meson_options.txt" <<'EOF'
option('build_tests', type: 'boolean', value: false)
option('build_benchmarks', type: 'boolean', value: false)
EOF

if [ "$SRTP_BACKEND" = openssl ]; then
	# libsrtp2 from Debian's source package, built by its own meson.build as the
	# subproject "libsrtp2" (OpenSSL crypto, static). Debian's patches to it touch
	# only tests, test scripts and the README, so the orig tarball is the library
	# Debian ships, except for the crypto backend. The public headers are copied to
	# include/srtp2/ next to the shim (the shim includes <srtp2/srtp.h>; the
	# library's own include/ has a srtp.h that must not shadow the shim).
	mkdir -p "$S/libsrtp2" "$S/libsrtp3/include/srtp2"
	tar -xzf "$SRTP_TGZ" -C "$S/libsrtp2" --strip-components=1
	[ -f "$S/libsrtp2/meson.build" ] || die "libsrtp2 source $SRTP_TGZ has no meson.build (need >= 2.4)"
	cp "$S/libsrtp2/include/srtp.h" "$S/libsrtp2/crypto/include/auth.h" \
		"$S/libsrtp2/crypto/include/cipher.h" "$S/libsrtp2/crypto/include/crypto_types.h" \
		"$S/libsrtp3/include/srtp2/"
	cat > "$S/libsrtp3/meson.build" <<'EOF'
# Stub: libsrtp3 API = include/srtp.h shim over libsrtp2 2.5 built from Debian's
# source package (subprojects/libsrtp2) with OpenSSL as crypto backend, static.
project('libsrtp3', 'c', version: '3.0.0-shim')
libsrtp2_proj = subproject('libsrtp2', default_options: [
  'crypto-library=openssl', 'crypto-library-kdf=disabled', 'tests=disabled',
  'pcap-tests=disabled', 'doc=disabled', 'fuzzer=disabled', 'default_library=static',
])
libsrtp3_dep = declare_dependency(include_directories: include_directories('include'),
  link_with: libsrtp2_proj.get_variable('libsrtp2_static'),
  dependencies: [dependency('libcrypto', version: '>=3.0.0')])
libsrtp3 = static_library('ms_stub_libsrtp3', 'stub.c')
EOF
else
	cat > "$S/libsrtp3/meson.build" <<'EOF'
# Stub: libsrtp3 API = include/srtp.h shim over Debian's libsrtp2 (2.5.0),
# linked dynamically (Debian's libsrtp2 uses NSS as crypto backend).
project('libsrtp3', 'c', version: '3.0.0-shim')
libsrtp2_dep = dependency('libsrtp2', version: '>=2.4.0')
libsrtp3_dep = declare_dependency(include_directories: include_directories('include'), dependencies: [libsrtp2_dep])
libsrtp3 = static_library('ms_stub_libsrtp3', 'stub.c')
EOF
fi
cat > "$S/libsrtp3/meson_options.txt" <<'EOF'
option('crypto-library', type: 'string', value: 'openssl')
option('crypto-library-kdf', type: 'string', value: 'disabled')
option('tests', type: 'string', value: 'disabled')
EOF

cat > "$S/usrsctp/meson.build" <<'EOF'
# Stub: Debian's libusrsctp-dev (0.9.5.0), static.
project('usrsctp', 'c', version: '0.9.system')
usrsctp_dep = dependency('usrsctp', static: true)
usrsctp = static_library('ms_stub_usrsctp', 'stub.c')
EOF
cat > "$S/usrsctp/meson_options.txt" <<'EOF'
option('sctp_build_programs', type: 'boolean', value: false)
EOF

cat > "$S/abseil-cpp/meson.build" <<'EOF'
# Stub: Debian's libabsl-dev (20220623), static.
project('abseil-cpp', 'c', version: '20220623.system')
absl_container_dep = declare_dependency(dependencies: [
  dependency('absl_flat_hash_map', static: true),
  dependency('absl_flat_hash_set', static: true),
  dependency('absl_btree', static: true),
  dependency('absl_inlined_vector', static: true),
  dependency('absl_memory', static: true),
])
absl_strings_dep = declare_dependency(dependencies: [dependency('absl_strings', static: true)])
absl_types_dep = declare_dependency(dependencies: [
  dependency('absl_optional', static: true),
  dependency('absl_variant', static: true),
  dependency('absl_span', static: true),
])
absl_container_lib = static_library('ms_stub_absl_container', 'stub.c')
EOF

cat > "$S/catch2/meson.build" <<'EOF'
# Stub: catch2 is only used by mediasoup-worker-test (not built here).
project('catch2', 'c', version: '0.stub')
catch2_dep = declare_dependency()
EOF

cat > "$S/flatbuffers/meson.build" <<'EOF'
# Stub: Debian's libflatbuffers-dev 2.0.8 headers; schemas are compiled with
# Debian's /usr/bin/flatc 2.0.8 (found by fbs/meson.build's find_program).
project('flatbuffers', 'c', version: '2.system')
flatbuffers_dep = dependency('flatbuffers', static: true)
flatbuffers_lib = static_library('ms_stub_flatbuffers', 'stub.c')
EOF

if [ "$LIBURING" = 1 ]; then
	mkdir -p "$S/liburing/include"
	cat > "$S/liburing/meson.build" <<'EOF'
# Stub: Debian's liburing-dev 2.3 (static) + include/liburing.h compat header.
project('liburing', 'c', version: '2.system')
uring = declare_dependency(include_directories: include_directories('include'),
  dependencies: [dependency('liburing', version: '>=2.3', static: true)])
liburing = static_library('ms_stub_liburing', 'stub.c')
EOF
	cat > "$S/liburing/include/liburing.h" <<'EOF'
/*
 * liburing 2.3 compat for mediasoup-worker: Debian 12 has liburing 2.3;
 * mediasoup's DepLibUring.cpp also calls three helpers added in liburing 2.4.
 * They are header-only there too (no new kernel feature: IORING_OP_SEND with a
 * destination address, the kernel >= 6.0 that mediasoup already requires).
 */
#ifndef MS_LIBURING_COMPAT_H
#define MS_LIBURING_COMPAT_H

#include_next <liburing.h>

#ifndef IO_URING_VERSION_MAJOR
/* liburing < 2.4 has no version.h: Debian 12's is 2.3. */
static inline int io_uring_major_version(void) { return 2; }
static inline int io_uring_minor_version(void) { return 3; }

static inline void io_uring_prep_sendto(struct io_uring_sqe *sqe, int sockfd, const void *buf,
  size_t len, int flags, const struct sockaddr *addr, socklen_t addrlen)
{
	io_uring_prep_send(sqe, sockfd, buf, len, flags);
	io_uring_prep_send_set_addr(sqe, addr, addrlen);
}
#endif

#endif /* MS_LIBURING_COMPAT_H */
EOF
else
	cat > "$S/liburing/meson.build" <<'EOF'
# Stub (unused: the build passes -Dms_disable_liburing=true).
project('liburing', 'c', version: '0.stub')
uring = dependency('liburing', required: false)
liburing = static_library('ms_stub_liburing', 'stub.c')
EOF
fi

cat > "$S/libsrtp3/include/srtp.h" <<'EOF'
/*
 * libsrtp3 API shim over Debian's libsrtp2 (2.4/2.5), for mediasoup-worker.
 *
 * mediasoup >= 3.15 is written against libsrtp 3.x (versatica fork), whose
 * protect/unprotect functions take separate in/out buffers and size_t
 * lengths, and which renamed srtp_remove_stream() to srtp_stream_remove().
 * libsrtp2 works in place with int lengths. This header includes the real
 * libsrtp2 header and adds C++ overloads with the libsrtp3 signatures.
 */
#ifndef MS_SRTP3_SHIM_H
#define MS_SRTP3_SHIM_H

#include <srtp2/srtp.h>

#ifndef __cplusplus
#error "libsrtp3 shim requires C++"
#endif

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>

/* Error codes that only exist in libsrtp3 (libsrtp2 stops at 27). */
static constexpr srtp_err_status_t srtp_err_status_buffer_small = static_cast<srtp_err_status_t>(28);
static constexpr srtp_err_status_t srtp_err_status_cryptex_err  = static_cast<srtp_err_status_t>(29);

namespace ms_srtp3_shim
{
	inline srtp_err_status_t protect_common(
	  bool rtcp, srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen, size_t mkiIndex)
	{
		// libsrtp2 appends the auth tag (+ MKI) in place; SRTCP also appends the
		// 4-byte E-flag/index word.
		const size_t extra = SRTP_MAX_TRAILER_LEN + (rtcp ? 4u : 0u);

		if (in == nullptr || out == nullptr || outLen == nullptr)
			return srtp_err_status_bad_param;
		if (inLen > static_cast<size_t>(INT_MAX) - extra)
			return srtp_err_status_bad_param;
		if (*outLen < inLen + extra)
			return srtp_err_status_buffer_small;

		if (out != in)
			std::memmove(out, in, inLen);

		int len = static_cast<int>(inLen);
		srtp_err_status_t err;

		if (mkiIndex == 0)
			err = rtcp ? ::srtp_protect_rtcp(ctx, out, &len) : ::srtp_protect(ctx, out, &len);
		else
			err = rtcp ? ::srtp_protect_rtcp_mki(ctx, out, &len, 1, static_cast<unsigned int>(mkiIndex))
			           : ::srtp_protect_mki(ctx, out, &len, 1, static_cast<unsigned int>(mkiIndex));

		if (err == srtp_err_status_ok)
			*outLen = static_cast<size_t>(len);

		return err;
	}

	inline srtp_err_status_t unprotect_common(
	  bool rtcp, srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen)
	{
		if (in == nullptr || out == nullptr || outLen == nullptr)
			return srtp_err_status_bad_param;
		if (inLen > static_cast<size_t>(INT_MAX))
			return srtp_err_status_bad_param;
		if (out != in)
		{
			if (*outLen < inLen)
				return srtp_err_status_buffer_small;
			std::memmove(out, in, inLen);
		}

		int len = static_cast<int>(inLen);
		const srtp_err_status_t err =
		  rtcp ? ::srtp_unprotect_rtcp(ctx, out, &len) : ::srtp_unprotect(ctx, out, &len);

		if (err == srtp_err_status_ok)
			*outLen = static_cast<size_t>(len);

		return err;
	}
} // namespace ms_srtp3_shim

/* libsrtp3 signatures, as C++ overloads of the libsrtp2 C functions. */
inline srtp_err_status_t srtp_protect(
  srtp_t ctx, const uint8_t* rtp, size_t rtp_len, uint8_t* srtp, size_t* srtp_len, size_t mki_index)
{
	return ms_srtp3_shim::protect_common(false, ctx, rtp, rtp_len, srtp, srtp_len, mki_index);
}

inline srtp_err_status_t srtp_unprotect(
  srtp_t ctx, const uint8_t* srtp, size_t srtp_len, uint8_t* rtp, size_t* rtp_len)
{
	return ms_srtp3_shim::unprotect_common(false, ctx, srtp, srtp_len, rtp, rtp_len);
}

inline srtp_err_status_t srtp_protect_rtcp(
  srtp_t ctx, const uint8_t* rtcp, size_t rtcp_len, uint8_t* srtcp, size_t* srtcp_len, size_t mki_index)
{
	return ms_srtp3_shim::protect_common(true, ctx, rtcp, rtcp_len, srtcp, srtcp_len, mki_index);
}

inline srtp_err_status_t srtp_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, size_t srtcp_len, uint8_t* rtcp, size_t* rtcp_len)
{
	return ms_srtp3_shim::unprotect_common(true, ctx, srtcp, srtcp_len, rtcp, rtcp_len);
}

/* libsrtp3 renamed srtp_remove_stream() (SSRC in network byte order in both). */
inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
	return ::srtp_remove_stream(session, ssrc);
}

#endif /* MS_SRTP3_SHIM_H */
EOF

# Patch: Debian's OpenSSL is built with kTLS support (upstream's bundled
# OpenSSL is not). mediasoup's BIO callback returns 1 for every BIO_ctrl() on
# its outgoing mem BIO, so BIO_get_ktls_send() answers "yes" and OpenSSL skips
# allocating the DTLS write buffer -> SIGSEGV in do_dtls1_write() at the first
# DTLS handshake. Make the callback answer 0 to the two kTLS queries only, which
# is exactly what a kTLS-less OpenSSL (upstream's) evaluates them to.
mkdir -p "$WORK/orig/src/RTC"
cp "$W/src/RTC/DtlsTransport.cpp" "$WORK/orig/src/RTC/DtlsTransport.cpp"
cp "$W/meson.build" "$WORK/orig/meson.build"
python3 - "$W/src/RTC/DtlsTransport.cpp" <<'PY' || die "could not apply the DtlsTransport kTLS patch (mediasoup source changed?)"
import re, sys
p = sys.argv[1]
s = open(p).read()
if "build-worker.sh kTLS patch" in s:
    sys.exit(0)
m = re.search(r"(inline static long onSslBioOut\([^)]*?)int /\*argi\*/", s, re.S)
if not m:
    sys.exit("onSslBioOut signature not found")
s = s[:m.start()] + m.group(1) + "int argi" + s[m.end():]
m = re.search(r"\n(\t(?:const )?long resultOfcallback = [^\n]*\n)", s)
if not m:
    sys.exit("resultOfcallback line not found")
patch = m.group(1) + """
#ifdef BIO_CTRL_GET_KTLS_SEND
	// build-worker.sh kTLS patch: report "no kTLS" for this mem BIO.
	if (
	  (operationType & ~BIO_CB_RETURN) == BIO_CB_CTRL &&
	  (argi == BIO_CTRL_GET_KTLS_SEND || argi == BIO_CTRL_GET_KTLS_RECV))
	{
		return 0;
	}
#endif
"""
s = s.replace(m.group(1), patch, 1)
open(p, "w").write(s)
PY

# Debian 12 ships meson 1.0.1; mediasoup asks for >= 1.1.0 but builds fine
# with 1.0.1 once the subprojects are the stubs above.
sed -i -E "s/meson_version[[:space:]]*:[[:space:]]*'>=[[:space:]]*[0-9.]+'/meson_version: '>= 1.0.0'/" "$W/meson.build"

# Keep a record of the two source patches (copied next to the binary).
{ (cd "$WORK/orig" && diff -u meson.build "$W/meson.build"); \
  (cd "$WORK/orig" && diff -u src/RTC/DtlsTransport.cpp "$W/src/RTC/DtlsTransport.cpp"); } \
	> "$WORK/mediasoup-source.patch" || true

JOBS="${MS_BUILD_JOBS:-$(nproc)}"
log "meson setup (meson $(meson --version), $(g++ -dumpfullversion 2>/dev/null || echo g++))"
URING_ARG="-Dms_disable_liburing=true"
[ "$LIBURING" = 1 ] && URING_ARG="-Dms_disable_liburing=false"
# shellcheck disable=SC2086
(cd "$W" && meson setup "$WORK/build" --buildtype release -Db_ndebug=true \
	$URING_ARG ${MS_MESON_ARGS:-}) > "$WORK/meson-setup.log" 2>&1 \
	|| { tail -n 60 "$WORK/meson-setup.log" >&2; trap - EXIT; die "meson setup failed (work dir kept: $WORK)"; }

# mediasoup's tasks.py compiles the flatbuffers headers first: the worker
# target does not depend on the generator target.
log "flatc: generating FBS headers"
meson compile -C "$WORK/build" flatbuffers-generator > "$WORK/flatc.log" 2>&1 \
	|| { tail -n 60 "$WORK/flatc.log" >&2; trap - EXIT; die "flatbuffers-generator failed (work dir kept: $WORK)"; }

log "compiling mediasoup-worker with $JOBS jobs (about 3 min on 2 cores)"
meson compile -C "$WORK/build" -j "$JOBS" mediasoup-worker > "$WORK/compile.log" 2>&1 \
	|| { grep -E 'error|undefined reference' "$WORK/compile.log" | head -n 40 >&2; tail -n 20 "$WORK/compile.log" >&2; \
	     trap - EXIT; die "compile failed (work dir kept: $WORK)"; }

NEW="$WORK/build/mediasoup-worker"
worker_ok "$NEW" || die "built binary does not start correctly (expected exit code 41)"

mkdir -p "$OUT_DIR"
cp -f "$NEW" "$BIN.tmp.$$"
chmod 0755 "$BIN.tmp.$$"
mv -f "$BIN.tmp.$$" "$BIN"
mkdir -p "$OUT_DIR/recipe"
rm -rf "$OUT_DIR/recipe/subprojects"
cp -a "$S" "$OUT_DIR/recipe/subprojects"   # keep the stubs/shim for reference
cp "$WORK/mediasoup-source.patch" "$OUT_DIR/recipe/mediasoup-source.patch"
{
	echo "recipe=$RECIPE_ID"
	echo "mediasoup=$MS_VERSION"
	echo "built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "build_seconds=$(( $(date +%s) - T0 ))"
	echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "meson=$(meson --version) ninja=$(ninja --version) gxx=$(g++ -dumpfullversion)"
	echo "flatc=$(flatc --version)"
	for p in libssl-dev libuv1-dev libusrsctp-dev libabsl-dev libflatbuffers-dev \
		$([ "$SRTP_BACKEND" = debian-nss ] && echo libsrtp2-dev) $([ "$LIBURING" = 1 ] && echo liburing-dev); do
		echo "deb:$p=$(dpkg-query -W -f='${Version}' "$p")"
	done
	[ -z "$SRTP_TGZ" ] || echo "libsrtp2_source=$(basename "$SRTP_TGZ") sha256=$(sha256sum "$SRTP_TGZ" | cut -d' ' -f1) crypto=openssl static"
	echo "meson_args=--buildtype release -Db_ndebug=true $URING_ARG ${MS_MESON_ARGS:-}"
	echo "ldd:"; ldd "$BIN" | sed 's/ (0x[0-9a-f]*)//; s/^/  /'
} > "$INFO"

log "built $BIN in $(( $(date +%s) - T0 ))s"
install_into_pkg
printf '%s\n' "$BIN"
