//! Shared by every target: make a stack overflow a recorded crash.
//!
//! The targets are built without a sanitizer (`--sanitizer none`; the product crates forbid
//! `unsafe`). Without ASan nothing gives the main thread an alternate signal stack, so a stack
//! overflow's SIGSEGV cannot run libFuzzer's handler: the process just dies, and libFuzzer
//! saves no crash input. This installs an alternate stack and a SIGSEGV handler on it that
//! prints a note and aborts; libFuzzer's SIGABRT handler then saves the input as usual.

use std::ptr;

const ALT_STACK: usize = 256 * 1024;

extern "C" fn on_segv(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let msg = b"\n==ferry-fuzz== SIGSEGV in the fuzz target (a stack overflow if the address is just below the stack)\n";
    // SAFETY: async-signal-safe calls only.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        let _ = info;
        libc::abort();
    }
}

/// Installs the alternate stack and the SIGSEGV handler (call once, from `init`).
pub fn report_stack_overflows() {
    // SAFETY: plain libc calls on memory this function maps and leaks on purpose.
    unsafe {
        let mem = libc::mmap(
            ptr::null_mut(),
            ALT_STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(mem, libc::MAP_FAILED);
        let ss = libc::stack_t {
            ss_sp: mem,
            ss_flags: 0,
            ss_size: ALT_STACK,
        };
        assert_eq!(libc::sigaltstack(&ss, ptr::null_mut()), 0);
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction =
            on_segv as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGSEGV, &sa, ptr::null_mut()), 0);
    }
}
