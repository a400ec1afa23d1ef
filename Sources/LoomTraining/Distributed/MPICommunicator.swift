import Foundation

/// Open MPI's world communicator, reached through libmpi at run time (dlopen), so Loom builds and
/// runs without MPI installed and needs Open MPI only for `mpirun -np N loom train …`.
///
/// The handles are Open MPI's (its mpi.h defines MPI_COMM_WORLD as `&ompi_mpi_comm_world`, MPI_FLOAT
/// as `&ompi_mpi_float`, MPI_SUM as `&ompi_mpi_op_sum`, …): the addresses of those symbols.
/// Errors abort the whole job (MPI_ERRORS_ARE_FATAL, the default): a dead or failing rank stops the
/// others instead of leaving them waiting in a collective.
public final class MPICommunicator: Communicator {
    private typealias InitFunction = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32
    private typealias CommIntFunction = @convention(c) (UnsafeMutableRawPointer, UnsafeMutablePointer<Int32>) -> Int32
    private typealias AllreduceFunction = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer, Int32, UnsafeMutableRawPointer,
                                                          UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Int32
    private typealias CommFunction = @convention(c) (UnsafeMutableRawPointer) -> Int32
    private typealias AbortFunction = @convention(c) (UnsafeMutableRawPointer, Int32) -> Int32
    private typealias VoidFunction = @convention(c) () -> Int32

    public let rank: Int
    public let size: Int
    private let world: UnsafeMutableRawPointer
    private let floatType: UnsafeMutableRawPointer
    private let doubleType: UnsafeMutableRawPointer
    private let int64Type: UnsafeMutableRawPointer
    private let sum: UnsafeMutableRawPointer
    /// MPI_IN_PLACE: Open MPI defines it as (void *) 1.
    private let inPlace = UnsafeRawPointer(bitPattern: 1)
    private let allreduce: AllreduceFunction
    private let barrierFunction: CommFunction
    private let abortFunction: AbortFunction
    /// Largest count of one MPI_Allreduce call (its count is a C int).
    static let maxChunk = 1 << 28

    public init() throws {
        var handle: UnsafeMutableRawPointer?
        for name in ["libmpi.so.40", "libmpi.so"] where handle == nil {
            handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL)
        }
        guard let handle else {
            throw DistributedError("started by mpirun, but Open MPI's libmpi.so.40 cannot be loaded: install it (Debian: apt-get install openmpi-bin libopenmpi-dev)")
        }
        func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
            guard let pointer = dlsym(handle, name) else { throw DistributedError("libmpi has no symbol \(name): Loom needs Open MPI (4.x or 5.x)") }
            return pointer
        }
        let initialize = unsafeBitCast(try symbol("MPI_Init"), to: InitFunction.self)
        let commRank = unsafeBitCast(try symbol("MPI_Comm_rank"), to: CommIntFunction.self)
        let commSize = unsafeBitCast(try symbol("MPI_Comm_size"), to: CommIntFunction.self)
        allreduce = unsafeBitCast(try symbol("MPI_Allreduce"), to: AllreduceFunction.self)
        barrierFunction = unsafeBitCast(try symbol("MPI_Barrier"), to: CommFunction.self)
        abortFunction = unsafeBitCast(try symbol("MPI_Abort"), to: AbortFunction.self)
        let finalize = unsafeBitCast(try symbol("MPI_Finalize"), to: VoidFunction.self)
        world = try symbol("ompi_mpi_comm_world")
        floatType = try symbol("ompi_mpi_float")
        doubleType = try symbol("ompi_mpi_double")
        int64Type = try symbol("ompi_mpi_int64_t")
        sum = try symbol("ompi_mpi_op_sum")
        guard initialize(nil, nil) == 0 else { throw DistributedError("MPI_Init failed") }
        var value: Int32 = 0
        guard commRank(world, &value) == 0 else { throw DistributedError("MPI_Comm_rank failed") }
        rank = Int(value)
        guard commSize(world, &value) == 0 else { throw DistributedError("MPI_Comm_size failed") }
        size = Int(value)
        // MPI_Finalize when the process ends normally (after the last collective).
        MPICommunicator.finalizer = finalize
        atexit { _ = MPICommunicator.finalizer?() }
    }

    nonisolated(unsafe) private static var finalizer: VoidFunction?

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try reduce(values.baseAddress, values.count, floatType)
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try reduce(values.baseAddress, values.count, doubleType)
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Int64>) throws {
        try reduce(values.baseAddress, values.count, int64Type)
    }

    private func reduce<T>(_ base: UnsafeMutablePointer<T>?, _ count: Int, _ type: UnsafeMutableRawPointer) throws {
        guard let base, count > 0 else { return }
        var offset = 0
        while offset < count {
            let n = min(MPICommunicator.maxChunk, count - offset)
            guard allreduce(inPlace, UnsafeMutableRawPointer(base + offset), Int32(n), type, sum, world) == 0 else {
                throw DistributedError("MPI_Allreduce failed on rank \(rank)")
            }
            offset += n
        }
    }

    public func barrier() throws {
        guard barrierFunction(world) == 0 else { throw DistributedError("MPI_Barrier failed on rank \(rank)") }
    }

    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("rank \(rank): \(message)\n".utf8))
        _ = abortFunction(world, code)
        exit(code)
    }
}

public struct DistributedError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
