import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs the espeak-ng program: `espeak-ng -v VOICE -s RATE -w out.wav "text"`.
public struct Espeak: Sendable {
    /// The program's full path.
    public let executable: String

    /// Finds espeak-ng on PATH (or uses `executable`), or explains how to install it.
    public init(executable: String? = nil) throws {
        if let executable {
            guard FileManager.default.isExecutableFile(atPath: executable) else {
                throw WorldError("\(executable) is not an executable file (expected espeak-ng)")
            }
            self.executable = executable
            return
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = "\(folder)/espeak-ng"
            if FileManager.default.isExecutableFile(atPath: candidate) {
                self.executable = candidate
                return
            }
        }
        throw WorldError("espeak-ng was not found on PATH; the spoken questions need it. Install the Debian "
                         + "package espeak-ng (apt-get install espeak-ng), or set --pretrain-speech, --stage1-speech, "
                         + "--stage1-spoken-text-qa, --stage2-spoken-qa, --test-spoken-qa and --eval-samples to 0.")
    }

    /// Writes `utterance` to `path` as espeak-ng's WAV (22050 Hz mono, 16-bit).
    ///
    /// Started with posix_spawn rather than Foundation's `Process`, which costs ~60 ms per run here
    /// (five times espeak-ng's own time for a short question).
    public func synthesize(_ utterance: Utterance, to path: String) throws {
        let arguments = [executable, "-v", utterance.voice, "-s", String(utterance.rate), "-w", path, utterance.text]
        let (status, messages) = try Espeak.run(arguments)
        let detail = messages.trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0 else {
            throw WorldError("espeak-ng failed (\(Espeak.describe(status))) on voice \(utterance.voice), "
                             + "rate \(utterance.rate), text \"\(utterance.text)\": \(detail)")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw WorldError("espeak-ng wrote no file for voice \(utterance.voice), rate \(utterance.rate), "
                             + "text \"\(utterance.text)\" \(detail)")
        }
    }

    /// Runs `arguments[0]` with `arguments`, stdout discarded; returns the wait status and stderr.
    static func run(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        // The pipe is made close-on-exec under a lock shared by all spawns, so that a child spawned by
        // another worker cannot inherit its write end (and keep it open past our child's exit); dup2 onto
        // fd 2 clears the flag for our own child. (Glibc's pipe2 is not visible to Swift.)
        var pipe: [Int32] = [0, 0]
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        Espeak.spawnLock.lock()
        guard Glibc.pipe(&pipe) == 0 else {
            Espeak.spawnLock.unlock()
            throw WorldError("cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        _ = fcntl(pipe[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(pipe[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 2)
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
        posix_spawn_file_actions_destroy(&actions)
        Espeak.spawnLock.unlock()
        close(pipe[1])
        defer { close(pipe[0]) }
        guard spawned == 0 else {
            throw WorldError("cannot run \(arguments[0]): \(String(cString: strerror(spawned)))")
        }
        var output = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(pipe[0], &buffer, buffer.count)
            if count > 0 { output += buffer[0..<count]; continue }
            if count < 0 && errno == EINTR { continue }
            break
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw WorldError("cannot wait for \(arguments[0]): \(String(cString: strerror(errno)))") }
        }
        return (status, String(decoding: output, as: UTF8.self))
    }

    private static let spawnLock = NSLock()

    /// "exit status 1" or "signal 9" from a waitpid status.
    static func describe(_ status: Int32) -> String {
        let signal = status & 0x7f
        return signal == 0 ? "exit status \((status >> 8) & 0xff)" : "signal \(signal)"
    }
}
