import CLoomBLAS

/// The process's malloc heap.
public enum Heap {
    /// Hands free heap pages back to the system. After many large buffers are freed at once (weights
    /// converted to bfloat16), glibc keeps them resident for reuse unless asked.
    public static func releaseFreePages() {
        loom_release_free_heap()
    }
}
