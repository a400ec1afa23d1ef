import LoomData
import LoomModels

extension Batch {
    /// The batch's media as the model takes them, each item with its file (the feature cache's key).
    public var modalityInputs: [ModalityInputs] {
        media.sorted { $0.key < $1.key }.map { ModalityInputs(name: $0.key, inputs: $0.value.inputs, slots: $0.value.slots, files: $0.value.files) }
    }
}
