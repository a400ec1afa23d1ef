import LoomTensor

/// A safetensors file opened for reading: memory-mapped, its header fully validated on open
/// (SPECS §1.3), tensors decoded on request.
///
/// Tensor data is copied out of the mapping into fresh Float32 storage, so returned tensors stay
/// valid after this object is gone. `rawBytes(_:)` alone points into the mapping.
///
/// Immutable after init (the mapping is read-only), so one file may be read from many threads.
public final class SafetensorsFile: TensorSource, @unchecked Sendable {
    public let path: String
    /// Tensor names in ascending (bytewise UTF-8) order.
    public let names: [String]
    /// The `__metadata__` map; empty when the file has none.
    public let metadata: [String: String]
    /// Every tensor, in the order its bytes appear in the file.
    public let tensorInfos: [TensorInfo]

    private let file: MappedFile
    private let dataStart: Int
    private let infoByName: [String: TensorInfo]

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        let header = try SafetensorsHeader(bytes: file.bytes, path: path)
        self.path = path
        self.file = file
        self.dataStart = header.dataStart
        self.metadata = header.metadata
        self.tensorInfos = header.tensors
        var infoByName: [String: TensorInfo] = [:]
        for info in header.tensors {
            // The JSON parser rejects byte-identical duplicate keys; Swift's String equality also
            // merges canonically equivalent names, which we cannot hold apart, so reject those too.
            guard infoByName.updateValue(info, forKey: info.name) == nil else {
                throw CheckpointError(path: path, tensor: info.name, "name appears twice (up to Unicode normalization)")
            }
        }
        self.infoByName = infoByName
        self.names = header.tensors.map(\.name).sorted(by: utf8Precedes)
    }

    public func contains(_ name: String) -> Bool { infoByName[name] != nil }

    public func info(_ name: String) -> TensorInfo? { infoByName[name] }

    /// The stored bytes of `name`, little-endian and possibly unaligned. Valid only while this
    /// object is alive; use `withRawBytes(_:_:)` where the lifetime is not obvious.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        let info = try requireInfo(name)
        let start = dataStart + info.dataOffsets.lowerBound
        return UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + info.byteCount)])
    }

    /// Calls `body` with the stored bytes of `name` while the mapping is guaranteed alive.
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let bytes = try rawBytes(name)
        return try withExtendedLifetime(self) { try body(bytes) }
    }

    /// The tensor converted to Float32: exact for F32, F16, BF16 and integers up to 2^24 in magnitude;
    /// F64 and larger integers round to nearest. BOOL reads as 0 or 1.
    public func tensor(_ name: String) throws -> Tensor {
        let info = try requireInfo(name)
        try checkMaterializable(info, rankLimit: Tensor.maxRank)
        let bytes = try rawBytes(name)
        let result = Tensor(uninitialized: info.shape)
        let converted = ElementDecoding.decodeFloats(bytes, dtype: info.dtype, count: info.elementCount,
                                                     into: result.pointer)
        guard converted else {
            throw CheckpointError(path: path, tensor: name, "dtype \(info.dtype.name) cannot be converted to Float32")
        }
        result.name = name
        return withExtendedLifetime(self) { result }
    }

    /// The tensor as integers; for I64, I32, I16, I8, U64, U32, U16, U8 and BOOL (0 or 1).
    public func intTensor(_ name: String) throws -> IntTensor {
        let info = try requireInfo(name)
        try checkMaterializable(info, rankLimit: nil)
        let bytes = try rawBytes(name)
        let scalars: [Int]?
        do {
            scalars = try ElementDecoding.decodeIntegers(bytes, dtype: info.dtype, count: info.elementCount)
        } catch let overflow as ElementDecoding.IntegerOverflow {
            throw CheckpointError(path: path, tensor: name, "U64 value \(overflow.value) at element \(overflow.index) does not fit in Int")
        }
        guard let scalars else {
            throw CheckpointError(path: path, tensor: name, "dtype \(info.dtype.name) is not an integer type")
        }
        return withExtendedLifetime(self) { IntTensor(shape: info.shape, scalars: scalars) }
    }

    // MARK: Checks

    private func requireInfo(_ name: String) throws -> TensorInfo {
        guard let info = infoByName[name] else {
            throw CheckpointError(path: path, tensor: name, "no such tensor (the file holds \(names.count))")
        }
        return info
    }

    /// A valid header can still describe tensors Loom's types cannot hold: rank above the limit, or a
    /// zero-element shape whose other dimensions overflow when strides are computed from the right.
    private func checkMaterializable(_ info: TensorInfo, rankLimit: Int?) throws {
        if let rankLimit, info.shape.count > rankLimit {
            throw CheckpointError(path: path, tensor: info.name, "rank \(info.shape.count) of shape \(describe(info.shape)) exceeds the supported \(rankLimit)")
        }
        guard checkedProduct(info.shape.reversed()) != nil else {
            throw CheckpointError(path: path, tensor: info.name, "shape \(describe(info.shape)) overflows when computing strides")
        }
    }
}
