import Foundation
import LoomData
import LoomModels
import LoomTensor

/// The frozen encoders' feature caches of a stage (`feature_cache_mb`): before the first step every
/// media file of the training data is decoded and encoded once, in sorted order and fixed chunks, so
/// its features do not depend on the batches it is later drawn in, and a run resumed from a
/// checkpoint reads the same bits as one that was not interrupted. The steps then read the features
/// instead of decoding and encoding the files again.
extension TrainingRun {
    /// A new, empty feature cache for each modality whose encoder is frozen in `stage` (none with
    /// `feature_cache_mb: 0` or `reproducible_gradients`); per stage, as the next may train the encoder.
    func attachFeatureCaches(_ stage: StageRecipe) {
        for binding in model.modalities {
            let cached = stage.featureCacheMB > 0 && !stage.reproducibleGradients && !binding.encoderTrains
            binding.featureCache = cached ? FeatureCache(budgetBytes: stage.featureCacheMB << 20) : nil
        }
    }

    /// The media loaders, each answering a file its modality's feature cache holds with a stand-in
    /// instead of decoding it.
    var mediaLoaders: [String: DataLoader.MediaLoader] {
        var loaders = processors
        for binding in model.modalities {
            guard let cache = binding.featureCache, let process = processors[binding.name] else { continue }
            loaders[binding.name] = { file in try cache.standIn(for: file) ?? process(file) }
        }
        return loaders
    }

    /// Encodes the training media of each cached modality into its cache, `chunk` files at a time,
    /// until the cache's budget is spent. Files that fail to load are left to the data loader (which
    /// skips their samples, or stops in strict mode).
    func fillFeatureCaches(_ stage: StageRecipe, from loader: DataLoader, chunk: Int = 32) throws {
        let cached = model.modalities.filter { $0.featureCache != nil }
        let files = loader.mediaFiles
        let total = cached.reduce(0) { $0 + (files[$1.name]?.count ?? 0) }
        guard total > 0 else { return }
        let started = Date()
        let progress = ProgressReporter(label: "\(stage.name) feature cache", total: total, every: max(total / 5, 1), unit: "file")
        var done = 0
        for binding in cached {
            let cache = binding.featureCache!, all = files[binding.name] ?? []
            for start in stride(from: 0, to: all.count, by: chunk) {
                let names = Array(all[start..<min(start + chunk, all.count)])
                let loaded = loader.load(names.map { (modality: binding.name, file: $0) }).map { try? $0.get() }
                done += names.count
                // A processor gives every file of its modality one shape; a file that does not load is left out.
                guard let inputShape = loaded.lazy.compactMap({ $0?.shape }).first else { continue }
                let usable = names.indices.filter { loaded[$0]?.shape == inputShape }
                let inputs = concat(usable.map { loaded[$0]!.reshaped([1] + inputShape) }, axis: 0)
                let encoded = try withoutGradients { try binding.encoder.encodeWithLengths(inputs) }
                let stored = cache.store(encoded, files: usable.map { names[$0] }, inputShape: inputShape)
                if communicator.isPrimary { progress.update(step: done, detail: binding.name) }
                if stored < usable.count {
                    done += all.count - start - names.count
                    if communicator.isPrimary {
                        progress.message("\(stage.name): the \(binding.name) feature cache is full (feature_cache_mb: \(stage.featureCacheMB)) after \(cache.statistics.files) files; the rest are encoded in their batches")
                    }
                    break
                }
            }
        }
        if communicator.isPrimary {
            if done < total { progress.update(step: total, detail: "") }
            log("stage \(stage.name): feature cache of \(cached.map { "\($0.name) \($0.featureCache!.statistics.files) files" }.joined(separator: ", ")) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        }
    }
}
