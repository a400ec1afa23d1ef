import Foundation
import LoomFuzzing

// Loom's parsers under libFuzzer. Built with `-sanitize=fuzzer,address -D LOOM_LIBFUZZER` (tools/fuzz.sh),
// main() hands control to libFuzzer's driver, which calls fuzzOneInput with each input; the target is
// named by $LOOM_FUZZ_TARGET (`FuzzTarget`).

private let root = URL(fileURLWithPath: ProcessInfo.processInfo.environment["LOOM_FUZZ_ROOT"] ?? FileManager.default.currentDirectoryPath)

private let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["LOOM_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("loom-fuzz: set LOOM_FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
    target.run(data, root: root)
    return 0
}

#if LOOM_LIBFUZZER
@_silgen_name("__lsan_disable") private func disableLeakChecks()
@_silgen_name("__lsan_enable") private func enableLeakChecks()

@_silgen_name("LLVMFuzzerRunDriver")
private func runLibFuzzer(_ argc: UnsafeMutablePointer<CInt>,
                          _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                          _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

/// Built for fuzzing: libFuzzer's driver, with libFuzzer's own flags (`-max_total_time=600 CORPUS…`).
/// Built normally: `LOOM_FUZZ_TARGET=image loom-fuzz FILE|DIR…` sends every file (directories: every
/// file in them) once through the target, as libFuzzer replays a corpus.
@main
enum Harness {
    static func main() {
        #if LOOM_LIBFUZZER
        // What a target keeps for the whole process is not a leak. LeakSanitizer cannot always see that
        // it is still reachable: Swift keeps enum case tags in a pointer's spare bits (`indirect enum
        // Decoder`'s boxes then look unreferenced). Tokenizers that are made and dropped for every input
        // (tokenizer-json) are leak-checked as usual.
        disableLeakChecks()
        target.prepare(root: root)
        enableLeakChecks()
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(runLibFuzzer(&argc, &argv, fuzzOneInput))
        #else
        target.prepare(root: root)
        var files: [String] = []
        for argument in CommandLine.arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("loom-fuzz: no such file \(argument)\n".utf8)); exit(2)
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: argument)) ?? []
                files += names.sorted().map { argument + "/" + $0 }
            } else {
                files.append(argument)
            }
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            _ = data.withUnsafeBytes { fuzzOneInput($0.bindMemory(to: UInt8.self).baseAddress, $0.count) }
        }
        print("loom-fuzz: \(target.rawValue): \(files.count) inputs, no crash")
        #endif
    }
}
