#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that readers see either the old file or the complete new one, never a torn
/// write: bytes go to a hidden temporary file in the same directory (rename is atomic only within
/// one file system), which is fsynced and renamed over the target by `commit()`.
/// Dropping the writer without committing removes the temporary file.
final class AtomicFileWriter {
    let path: String
    private let temporaryPath: String
    private var descriptor: Int32
    private var isCommitted = false

    init(path: String) throws {
        self.path = path
        let (directory, base) = splitPath(path)
        guard !base.isEmpty else { throw CheckpointError(path: path, "not a file path") }
        temporaryPath = "\(directory)/.\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CheckpointError(path: path, "cannot create temporary file \(temporaryPath): \(systemError())")
        }
    }

    deinit {
        if !isCommitted {
            if descriptor >= 0 { close(descriptor) }
            unlink(temporaryPath)
        }
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard var next = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = systemWrite(descriptor, next, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw CheckpointError(path: path, "write failed: \(systemError())")
            }
            next += written
            remaining -= written
        }
    }

    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    /// Makes the new contents durable and visible under `path`.
    func commit() throws {
        guard fsync(descriptor) == 0 else { throw CheckpointError(path: path, "fsync failed: \(systemError())") }
        let closed = close(descriptor)
        descriptor = -1
        guard closed == 0 else { throw CheckpointError(path: path, "close failed: \(systemError())") }
        guard rename(temporaryPath, path) == 0 else {
            throw CheckpointError(path: path, "cannot rename \(temporaryPath) into place: \(systemError())")
        }
        isCommitted = true
        // The rename itself is durable only once the directory entry is flushed.
        let directory = open(splitPath(path).directory, O_RDONLY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }
}

/// The directory ("." when there is none) and last component of `path`.
func splitPath(_ path: String) -> (directory: String, base: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let directory = String(path[..<slash])
    return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
}

/// `write(2)`, named apart from the writer's own methods.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
