import Foundation

/// Where a dataset's media path points. Datasets come from strangers: a path may only name a file
/// inside its media folder (the recipe's `media_root`, or the data file's folder), so `../`, an
/// absolute path or a symlink that leads out of that folder is refused unless the recipe allows it
/// (`allow_media_outside_root: true`).
public enum MediaPath {
    /// `path` made absolute against `root`. Throws `SampleError(.mediaOutsideRoot)` when the result
    /// (after resolving `..` and symlinks) is not inside `root`, unless `allowOutside`.
    public static func resolve(_ path: String, root: URL, allowOutside: Bool, sample: String) throws -> String {
        let joined = path.hasPrefix("/") ? URL(fileURLWithPath: path) : root.appendingPathComponent(path)
        if allowOutside { return joined.path }
        guard !path.hasPrefix("/") else {
            throw SampleError(.mediaOutsideRoot, sample: sample, "\(path) is an absolute path (set data.allow_media_outside_root to allow it)")
        }
        let folder = root.standardizedFileURL.resolvingSymlinksInPath().path
        let target = joined.standardizedFileURL.resolvingSymlinksInPath().path
        guard target.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/") else {
            throw SampleError(.mediaOutsideRoot, sample: sample,
                              "\(path) resolves to \(target), outside \(folder) (set data.allow_media_outside_root to allow it)")
        }
        return joined.standardizedFileURL.path
    }
}
