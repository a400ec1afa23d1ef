/// Keeps temporaries alive until the enclosing scope ends. Kernels take raw pointers out of tensors;
/// Swift may release an object right after its last use, so `defer { keepAlive(tmp) }` pins any
/// temporary whose pointer is still in use.
@inline(never)
public func keepAlive(_ objects: AnyObject?...) {
    withExtendedLifetime(objects) {}
}
