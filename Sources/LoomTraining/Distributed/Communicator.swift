import Foundation

/// The processes of one data-parallel run: each knows its rank among `size`, and together they sum
/// numbers (the trainable parameters' gradients, the supervised-token count, the loss).
///
/// `Distributed.world()` is the single process unless the program was started by Open MPI's `mpirun`
/// (docs/distributed.md); rank 0 is the one that writes checkpoints, metrics, plots and the
/// progress bar.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Element-wise sum over all ranks, in place; every rank gets the same result.
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws
    /// Integer sums are exact: the order in which ranks are combined cannot change them.
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Int64>) throws
    /// Returns when every rank has called it.
    func barrier() throws
    /// Stops every rank of the run (after printing `message` on this rank's standard error).
    func abort(_ message: String, code: Int32) -> Never
}

extension Communicator {
    public var isPrimary: Bool { rank == 0 }

    /// Sums numbers over all ranks (one call for all of them).
    public func allReduceSum(_ values: [Double]) throws -> [Double] {
        var values = values
        try values.withUnsafeMutableBufferPointer { try allReduceSum($0) }
        return values
    }
}

/// A run of one process: sums are the values themselves.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {}
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {}
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Int64>) throws {}
    public func barrier() throws {}
    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(code)
    }
}

public enum Distributed {
    nonisolated(unsafe) private static var current: Communicator?
    private static let lock = NSLock()

    /// The run's communicator: MPI's world when started by Open MPI's launcher (mpirun sets
    /// OMPI_COMM_WORLD_SIZE), otherwise the single process. Initialised on first use.
    public static func world() throws -> Communicator {
        lock.lock(); defer { lock.unlock() }
        if let current { return current }
        let made: Communicator = isLaunchedByMPI ? try MPICommunicator() : SingleProcess()
        current = made
        return made
    }

    /// Whether this process was started by mpirun (before initialising anything).
    public static var isLaunchedByMPI: Bool { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil }

    /// Ranks of this run on this machine, from the launcher's environment (1 without mpirun); threads
    /// per rank default to cores / this.
    public static var localSizeFromEnvironment: Int {
        Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? "") ?? 1
    }
}
