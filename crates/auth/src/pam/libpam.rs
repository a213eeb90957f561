//! A minimal binding to Linux-PAM (`libpam.so`): start a transaction, answer the
//! password prompts, authenticate, optionally run the account stack, end.
//!
//! Written by hand instead of using `pam-sys`/`pam-client`, which need bindgen and
//! libclang at build time. The declarations follow `<security/pam_appl.h>` and
//! `<security/_pam_types.h>` of Linux-PAM 1.5.
//!
//! Invariant: everything here blocks (a wrong password sleeps ~2-3.5 s in
//! `pam_faildelay`); callers run it on a blocking thread.

#![allow(
    unsafe_code,
    reason = "the FFI boundary to libpam: extern declarations and calls"
)]

use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::ptr;

use libc::{c_char, c_int, c_void};
use thiserror::Error;

/// `PAM_SUCCESS`: the call succeeded.
const PAM_SUCCESS: c_int = 0;
/// `PAM_BUF_ERR`: out of memory.
const PAM_BUF_ERR: c_int = 5;
/// `PAM_CONV_ERR`: the conversation failed.
const PAM_CONV_ERR: c_int = 19;
/// `PAM_PROMPT_ECHO_OFF`: a secret prompt (the password).
const PAM_PROMPT_ECHO_OFF: c_int = 1;
/// `PAM_PROMPT_ECHO_ON`: a visible prompt (the user name).
const PAM_PROMPT_ECHO_ON: c_int = 2;
/// `PAM_ERROR_MSG`: a message to show, no answer expected.
const PAM_ERROR_MSG: c_int = 3;
/// `PAM_TEXT_INFO`: a message to show, no answer expected.
const PAM_TEXT_INFO: c_int = 4;
/// `PAM_MAX_NUM_MSG`: the most messages one conversation call may carry.
const PAM_MAX_NUM_MSG: c_int = 32;

/// `pam_handle_t`: opaque to applications.
#[repr(C)]
struct PamHandle {
    _opaque: [u8; 0],
}

/// `struct pam_message`.
#[repr(C)]
struct PamMessage {
    msg_style: c_int,
    msg: *const c_char,
}

/// `struct pam_response`; PAM frees `resp` and the array with `free(3)`.
#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    resp_retcode: c_int,
}

/// The conversation callback's C signature.
type ConvFn = unsafe extern "C" fn(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata_ptr: *mut c_void,
) -> c_int;

/// `struct pam_conv`.
#[repr(C)]
struct PamConv {
    conv: Option<ConvFn>,
    appdata_ptr: *mut c_void,
}

#[link(name = "pam")]
unsafe extern "C" {
    fn pam_start(
        service_name: *const c_char,
        user: *const c_char,
        pam_conversation: *const PamConv,
        pamh: *mut *mut PamHandle,
    ) -> c_int;
    fn pam_end(pamh: *mut PamHandle, pam_status: c_int) -> c_int;
    fn pam_authenticate(pamh: *mut PamHandle, flags: c_int) -> c_int;
    fn pam_acct_mgmt(pamh: *mut PamHandle, flags: c_int) -> c_int;
    fn pam_open_session(pamh: *mut PamHandle, flags: c_int) -> c_int;
    fn pam_close_session(pamh: *mut PamHandle, flags: c_int) -> c_int;
    fn pam_strerror(pamh: *mut PamHandle, errnum: c_int) -> *const c_char;
}

/// Why PAM said no (or could not answer).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum PamFailure {
    /// The user name or password contains a NUL byte, which C strings cannot carry.
    #[error("user name or password contains a NUL byte")]
    NulByte,
    /// `pam_start` failed: the PAM configuration or library is broken.
    #[error("pam_start failed with PAM error {0}")]
    Start(c_int),
    /// `pam_authenticate` refused (wrong password, unknown user, ...).
    #[error("authentication failed: {0}")]
    Authenticate(String),
    /// `pam_acct_mgmt` refused (expired or locked account, `pam_access` rules, ...).
    #[error("account check failed: {0}")]
    Account(String),
    /// `pam_open_session` or `pam_close_session` failed.
    #[error("{0}")]
    Session(String),
}

/// What the conversation callback answers with; lives on the caller's stack for
/// the whole transaction.
struct Credentials {
    user: CString,
    password: CString,
}

/// A PAM step on a live handle (`pam_authenticate`, `pam_acct_mgmt`,
/// `pam_open_session`, `pam_close_session`): all share this C signature.
type Step = unsafe extern "C" fn(pamh: *mut PamHandle, flags: c_int) -> c_int;

/// One PAM transaction; `pam_end` runs on drop with the last status, so every
/// exit path releases the handle. It borrows the conversation's answers,
/// which PAM points at until `pam_end`.
struct Transaction<'a> {
    handle: *mut PamHandle,
    last_status: c_int,
    _credentials: PhantomData<&'a Credentials>,
}

impl<'a> Transaction<'a> {
    /// `pam_start` for `credentials.user` through `service`, answering
    /// prompts from `credentials`.
    fn start(service: &CStr, credentials: &'a Credentials) -> Result<Self, PamFailure> {
        let conv = PamConv {
            conv: Some(converse),
            appdata_ptr: ptr::from_ref(credentials).cast_mut().cast::<c_void>(),
        };
        let mut handle: *mut PamHandle = ptr::null_mut();
        // SAFETY: all pointers are valid NUL-terminated strings or live
        // structs; PAM copies `conv` and keeps `appdata_ptr`, which points at
        // `credentials`, borrowed by the transaction until `pam_end`.
        let status = unsafe {
            pam_start(
                service.as_ptr(),
                credentials.user.as_ptr(),
                &raw const conv,
                &raw mut handle,
            )
        };
        if status != PAM_SUCCESS || handle.is_null() {
            // Linux-PAM frees the handle itself when pam_start fails.
            return Err(PamFailure::Start(status));
        }
        Ok(Self {
            handle,
            last_status: PAM_SUCCESS,
            _credentials: PhantomData,
        })
    }

    /// Runs one step with flags 0 (as pamela, upstream's PAM library);
    /// a failure is PAM's message for the status.
    fn run(&mut self, step: Step) -> Result<(), String> {
        // SAFETY: the handle is live until drop; every `Step` takes a handle
        // and flags.
        let status = unsafe { step(self.handle, 0) };
        self.last_status = status;
        if status == PAM_SUCCESS {
            Ok(())
        } else {
            Err(self.strerror(status))
        }
    }

    /// The message PAM gives for a status code, e.g. "Authentication failure".
    fn strerror(&self, status: c_int) -> String {
        // SAFETY: `handle` is a live handle from `pam_start`; `pam_strerror`
        // returns a pointer to a static, NUL-terminated string (or NULL).
        let message = unsafe { pam_strerror(self.handle, status) };
        if message.is_null() {
            return format!("PAM error {status}");
        }
        // SAFETY: checked non-null above; the string is static and NUL-terminated.
        let text = unsafe { CStr::from_ptr(message) };
        format!("{} ({status})", text.to_string_lossy())
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        // SAFETY: `handle` came from a successful `pam_start` and is ended once here.
        unsafe {
            pam_end(self.handle, self.last_status);
        }
    }
}

/// Opens (or closes) a PAM session for `user` through `service`, as upstream's
/// `pamela.open_session` / `close_session`: a transaction of its own, ended at
/// once (upstream documents that this lifecycle suits few session stacks).
pub(crate) fn session(service: &str, user: &str, open: bool) -> Result<(), PamFailure> {
    let (Ok(service), Ok(user)) = (CString::new(service), CString::new(user)) else {
        return Err(PamFailure::NulByte);
    };
    // No password to give: a session stack that prompts gets an empty answer.
    let credentials = Credentials {
        user,
        password: CString::default(),
    };
    let mut transaction = Transaction::start(&service, &credentials)?;
    let step: Step = if open {
        pam_open_session
    } else {
        pam_close_session
    };
    transaction.run(step).map_err(PamFailure::Session)
}

/// Checks `password` for `user` through PAM `service`; with `check_account`, also
/// runs the account stack (`pam_acct_mgmt`). Runs as the calling process: only
/// root can check other users' passwords.
pub(crate) fn check_password(
    service: &str,
    user: &str,
    password: &str,
    check_account: bool,
) -> Result<(), PamFailure> {
    let (Ok(service), Ok(user), Ok(password)) = (
        CString::new(service),
        CString::new(user),
        CString::new(password),
    ) else {
        return Err(PamFailure::NulByte);
    };
    let credentials = Credentials { user, password };
    let mut transaction = Transaction::start(&service, &credentials)?;
    transaction
        .run(pam_authenticate)
        .map_err(PamFailure::Authenticate)?;
    if check_account {
        transaction
            .run(pam_acct_mgmt)
            .map_err(PamFailure::Account)?;
    }
    Ok(())
}

/// The conversation callback: the password for hidden prompts, the user name for
/// visible ones, nothing for messages. Any other prompt fails the conversation.
///
/// # Safety
/// Called by libpam with `num_msg` valid message pointers in `msg` (Linux-PAM's
/// array-of-pointers layout), a writable `resp` and our `Credentials` as `appdata`.
unsafe extern "C" fn converse(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata: *mut c_void,
) -> c_int {
    if !(1..=PAM_MAX_NUM_MSG).contains(&num_msg) || msg.is_null() || resp.is_null() {
        return PAM_CONV_ERR;
    }
    if appdata.is_null() {
        return PAM_CONV_ERR;
    }
    // SAFETY: `appdata` is the `Credentials` passed to `pam_start`, alive for the
    // whole transaction; we only read it.
    let credentials = unsafe { &*appdata.cast::<Credentials>() };
    let count = num_msg.unsigned_abs() as usize;
    // PAM frees the responses with free(3), so they must come from the C allocator.
    // SAFETY: plain allocation; the result is checked for NULL.
    let replies = unsafe { libc::calloc(count, size_of::<PamResponse>()) }.cast::<PamResponse>();
    if replies.is_null() {
        return PAM_BUF_ERR;
    }
    for i in 0..count {
        // SAFETY: libpam passes `num_msg` valid message pointers.
        let style = unsafe { (**msg.add(i)).msg_style };
        let answer = match style {
            PAM_PROMPT_ECHO_OFF => Some(&credentials.password),
            PAM_PROMPT_ECHO_ON => Some(&credentials.user),
            PAM_ERROR_MSG | PAM_TEXT_INFO => None,
            _ => {
                // SAFETY: `replies` holds `count` zeroed or strdup'ed entries.
                unsafe { free_replies(replies, count) };
                return PAM_CONV_ERR;
            }
        };
        if let Some(answer) = answer {
            // SAFETY: `answer` is a valid C string; the copy is checked for NULL.
            let copy = unsafe { libc::strdup(answer.as_ptr()) };
            if copy.is_null() {
                // SAFETY: as above.
                unsafe { free_replies(replies, count) };
                return PAM_BUF_ERR;
            }
            // SAFETY: `i < count`, inside the calloc'ed array.
            unsafe { (*replies.add(i)).resp = copy };
        }
    }
    // SAFETY: `resp` is writable; PAM takes ownership of `replies`.
    unsafe { *resp = replies };
    PAM_SUCCESS
}

/// Frees a reply array we built but will not hand to PAM, wiping the secrets.
///
/// # Safety
/// `replies` is a `calloc`'ed array of `count` entries whose `resp` is NULL or
/// from `strdup`.
unsafe fn free_replies(replies: *mut PamResponse, count: usize) {
    for i in 0..count {
        // SAFETY: `i < count`, inside the array.
        let text = unsafe { (*replies.add(i)).resp };
        if !text.is_null() {
            // SAFETY: `text` is a NUL-terminated strdup'ed string we own.
            unsafe {
                libc::explicit_bzero(text.cast::<c_void>(), libc::strlen(text));
                libc::free(text.cast::<c_void>());
            }
        }
    }
    // SAFETY: the array came from calloc and is freed once.
    unsafe { libc::free(replies.cast::<c_void>()) };
}
