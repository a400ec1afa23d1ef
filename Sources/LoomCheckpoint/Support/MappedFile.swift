#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory. Pages load on first touch, so opening a large
/// checkpoint costs only its header; the mapping lives as long as this object.
final class MappedFile {
    let path: String
    /// The file's bytes; empty (with no mapping) for a zero-length file, which `mmap` refuses.
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw CheckpointError(path: path, "cannot open: \(systemError())") }
        defer { close(descriptor) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw CheckpointError(path: path, "cannot stat: \(systemError())") }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw CheckpointError(path: path, "not a regular file") }
        let size = Int(status.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        // MAP_PRIVATE: our view never changes through our own writes (there are none) and we never
        // write the file back; PROT_READ makes any accidental store fault instead of corrupting it.
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0),
              base != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw CheckpointError(path: path, "cannot map \(size) bytes: \(systemError())")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress, bytes.count > 0 {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }
}

/// The text of the current `errno`.
func systemError() -> String {
    String(cString: strerror(errno))
}
