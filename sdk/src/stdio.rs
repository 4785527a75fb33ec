//! Standard output and error go to the host's log; the environment is empty.
//!
//! A connector has no terminal and no environment: what it prints (`println!`, `eprintln!`, a
//! panic's message) is worth reading in the host's log, beside the connector, channel and tenant
//! the host adds, and nothing in it should depend on environment variables. So inside the host
//! the SDK answers the C library's `write`, `writev` and `getenv`, which Rust's standard library
//! calls for these, instead of the WASI C library. Besides putting the output where operators
//! look, that leaves a connector without the thirteen `wasi:cli` and `wasi:io` interfaces the
//! WASI versions import, which the host would otherwise wire into every instance of every call.
//!
//! Each line is one log entry: standard error's at warn level, standard output's at info (text
//! left without a line end is logged when the call returns). Other descriptors do not exist in a
//! connector: writing to them fails with `EBADF`.

use crate::host::{LogLevel, log};
use std::ffi::{c_char, c_int};
use std::sync::Mutex;

/// The `errno` value for a descriptor that does not exist.
const EBADF: c_int = 8;

/// Text written to standard output and error since its last complete line.
static PENDING: Mutex<[Vec<u8>; 2]> = Mutex::new([Vec::new(), Vec::new()]);

/// Most bytes kept waiting for the end of a line (the host keeps as many characters of a log
/// line); a longer line is logged in pieces.
const MAX_LINE: usize = 4 * 1024;

/// Log what `bytes` completes of descriptor `fd`'s lines; how many bytes were taken, or none
/// for a descriptor that is neither standard output nor standard error.
fn take(fd: c_int, bytes: &[u8]) -> Option<usize> {
    let (index, level) = match fd {
        1 => (0, LogLevel::Info),
        2 => (1, LogLevel::Warn),
        _ => return None,
    };
    let mut pending = PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let line = &mut pending[index];
    for &byte in bytes {
        if byte == b'\n' || line.len() >= MAX_LINE {
            log(level, &String::from_utf8_lossy(line));
            line.clear();
            if byte == b'\n' {
                continue;
            }
        }
        line.push(byte);
    }
    Some(bytes.len())
}

/// Log what standard output and error hold without a line end; the SDK calls this when each
/// call of the connector returns, so that nothing printed is lost with the instance.
pub fn flush() {
    // Rust's standard output keeps a partial line in a buffer of its own.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let mut pending = PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for (line, level) in pending.iter_mut().zip([LogLevel::Info, LogLevel::Warn]) {
        if !line.is_empty() {
            log(level, &String::from_utf8_lossy(line));
            line.clear();
        }
    }
}

unsafe extern "C" {
    fn __errno_location() -> *mut c_int;
}

/// Fail a C call with `EBADF`.
fn bad_descriptor() -> isize {
    // SAFETY: the C library's thread-local `errno`.
    unsafe { *__errno_location() = EBADF };
    -1
}

/// The C library's `write`, for standard output and error.
///
/// # Safety
/// `buf` must be valid for `count` bytes, as C's `write` requires.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buf: *const u8, count: usize) -> isize {
    let bytes = if count == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(buf, count) } };
    take(fd, bytes).map_or_else(bad_descriptor, |n| n as isize)
}

/// One buffer of a `writev`.
#[repr(C)]
pub struct IoVec {
    base: *const u8,
    len: usize,
}

/// The C library's `writev`, for standard output and error.
///
/// # Safety
/// `iov` must point to `count` buffers, each valid for its length, as C's `writev` requires.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const IoVec, count: c_int) -> isize {
    let buffers = if count <= 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(iov, count as usize) } };
    let mut total = 0;
    for buffer in buffers {
        // SAFETY: the caller's buffer, valid for its length.
        match unsafe { write(fd, buffer.base, buffer.len) } {
            n if n < 0 => return n,
            n => total += n,
        }
    }
    total
}

/// The C library's `getenv`: a connector has no environment.
#[unsafe(no_mangle)]
pub extern "C" fn getenv(_name: *const c_char) -> *mut c_char {
    std::ptr::null_mut()
}
