/// Broadcasting arithmetic. Each op: forward, then its backward, which reduces the incoming gradient
/// back over broadcast dims.

public func + (a: Tensor, b: Tensor) -> Tensor {
    let out = Kernels.binary(a, b, .add)
    let (sa, sb) = (a.shape, b.shape)
    return Tensor.record("add", out, inputs: [a, b]) { g in
        [a.needsGradient ? Kernels.reduceBroadcast(g, to: sa) : nil,
         b.needsGradient ? Kernels.reduceBroadcast(g, to: sb) : nil]
    }
}

public func - (a: Tensor, b: Tensor) -> Tensor {
    let out = Kernels.binary(a, b, .subtract)
    let (sa, sb) = (a.shape, b.shape)
    return Tensor.record("subtract", out, inputs: [a, b]) { g in
        [a.needsGradient ? Kernels.reduceBroadcast(g, to: sa) : nil,
         b.needsGradient ? Kernels.reduceBroadcast(Kernels.scaled(g, by: -1), to: sb) : nil]
    }
}

public func * (a: Tensor, b: Tensor) -> Tensor {
    let out = Kernels.binary(a, b, .multiply)
    let (da, db) = (a.detached(), b.detached())
    return Tensor.record("multiply", out, inputs: [a, b]) { g in
        [a.needsGradient ? Kernels.reduceBroadcast(Kernels.binary(g, db, .multiply), to: da.shape) : nil,
         b.needsGradient ? Kernels.reduceBroadcast(Kernels.binary(g, da, .multiply), to: db.shape) : nil]
    }
}

public func / (a: Tensor, b: Tensor) -> Tensor {
    let out = Kernels.binary(a, b, .divide)
    let (da, db, dout) = (a.detached(), b.detached(), out.detached())
    return Tensor.record("divide", out, inputs: [a, b]) { g in
        var ga: Tensor?, gb: Tensor?
        let gOverB = Kernels.binary(g, db, .divide)
        if a.needsGradient { ga = Kernels.reduceBroadcast(gOverB, to: da.shape) }
        if b.needsGradient {  // d(a/b)/db = −(a/b)/b
            gb = Kernels.reduceBroadcast(Kernels.scaled(Kernels.binary(gOverB, dout, .multiply), by: -1), to: db.shape)
        }
        return [ga, gb]
    }
}

public func + (a: Tensor, s: Float) -> Tensor { a + Tensor(scalar: s) }
public func - (a: Tensor, s: Float) -> Tensor { a + Tensor(scalar: -s) }
public func + (s: Float, a: Tensor) -> Tensor { a + Tensor(scalar: s) }
public func - (s: Float, a: Tensor) -> Tensor { Tensor(scalar: s) - a }
public func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }

public func * (a: Tensor, s: Float) -> Tensor {
    let out = Kernels.scaled(a, by: s)
    return Tensor.record("scale", out, inputs: [a]) { g in [Kernels.scaled(g, by: s)] }
}

public func * (s: Float, a: Tensor) -> Tensor { a * s }
public prefix func - (a: Tensor) -> Tensor { a * -1 }

extension Kernels {
    /// s · x as a new contiguous tensor.
    public static func scaled(_ x: Tensor, by s: Float) -> Tensor { mapDense(x) { $0 * s } }
}
