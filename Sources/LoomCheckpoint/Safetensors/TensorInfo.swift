/// Where one tensor lives in a safetensors file, as its header describes it.
public struct TensorInfo: Equatable, Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range relative to the start of the data buffer (not the file), as in `data_offsets`.
    public let dataOffsets: Range<Int>
    /// Product of `shape` (1 for a 0-rank scalar); checked for overflow when the header was read.
    public let elementCount: Int

    public var byteCount: Int { dataOffsets.count }

    public init(name: String, dtype: DType, shape: [Int], dataOffsets: Range<Int>, elementCount: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataOffsets = dataOffsets
        self.elementCount = elementCount
    }
}

/// Product of `dimensions` in order, or nil on overflow (the reference uses the same left fold, so a
/// zero after an overflowing prefix still overflows).
func checkedProduct(_ dimensions: [Int]) -> Int? {
    var product = 1
    for dimension in dimensions {
        let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
        if overflow { return nil }
        product = next
    }
    return product
}
