// swift-tools-version:6.0
import PackageDescription

// Layering (dependencies point down only): C shims → LoomTensor → LoomCheckpoint / LoomTraining → loom.
// See ../shared/ARCHITECTURE.md and docs/ for what each layer holds.
let v5: [SwiftSetting] = [.swiftLanguageMode(.v5)]
let fast = v5

let package = Package(
    name: "Loom",
    products: [
        .executable(name: "loom", targets: ["loom"]),
        .library(name: "Loom", targets: ["LoomTensor", "LoomCheckpoint", "LoomNN", "LoomAdapters", "LoomModels", "LoomTraining",
                                         "LoomTokenizer", "LoomImages", "LoomAudio", "LoomData", "LoomWorld", "LoomDemo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // OpenBLAS is opened with dlopen after OPENBLAS_CORETYPE is chosen (see Sources/CLoomBLAS).
        .target(name: "CLoomBLAS", linkerSettings: [.linkedLibrary("dl")]),
        // Vector operations Swift's SIMD types lack as single instructions (square root), inlined.
        .target(name: "CLoomVector"),
        // The hottest elementwise and row kernels (SwiGLU, softmax rows, RMSNorm), compiled for AVX-512,
        // AVX2 and the x86-64 baseline and picked at load time; the same bits on every CPU.
        .target(name: "CLoomKernels"),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CSndFile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),

        .target(name: "LoomTensor", dependencies: ["CLoomBLAS", "CLoomKernels"], swiftSettings: fast),
        .target(name: "LoomCheckpoint", dependencies: ["LoomTensor"], swiftSettings: fast),
        .target(name: "LoomNN", dependencies: ["LoomTensor", "LoomCheckpoint"], swiftSettings: fast),
        .target(name: "LoomAdapters", dependencies: ["LoomNN", "LoomCheckpoint", "LoomTensor"], swiftSettings: fast),
        .target(name: "LoomModels", dependencies: ["LoomAdapters", "LoomNN", "LoomCheckpoint", "LoomTensor"], swiftSettings: fast),
        .target(name: "LoomTokenizer", swiftSettings: fast),
        .target(name: "LoomImages", dependencies: ["CPNG", "CJPEG", "LoomTensor"], swiftSettings: fast),
        .target(name: "LoomAudio", dependencies: ["CSndFile", "LoomTensor"], swiftSettings: fast),
        .target(name: "LoomData", dependencies: ["LoomTokenizer", "LoomImages", "LoomAudio", "LoomTensor"],
                swiftSettings: fast),
        .target(name: "LoomTraining",
                dependencies: ["LoomTensor", "CLoomVector", "LoomNN", "LoomCheckpoint", "LoomAdapters", "LoomModels", "LoomData",
                               "LoomTokenizer", "LoomImages", "LoomAudio", "CPNG", .product(name: "Yams", package: "Yams")],
                swiftSettings: fast),
        // The synthetic demo world (`loom make-demo-data`): scenes of shapes, captions, questions, speech.
        .target(name: "LoomWorld", dependencies: ["LoomImages", "LoomAudio", "CPNG"], swiftSettings: fast),
        // `loom demo`: both LLaVA stages on the demo world, scored on its held-out test set.
        .target(name: "LoomDemo", dependencies: ["LoomWorld", "LoomTraining", "LoomData", "LoomModels", "LoomTensor"], swiftSettings: v5),
        // Every parser of files from strangers as a function of bytes, for libFuzzer (`loom-fuzz`,
        // tools/fuzz.sh) and for the tests that replay the committed corpus (Tests/Fuzz/).
        .target(name: "LoomFuzzing", dependencies: ["LoomCheckpoint", "LoomModels", "LoomAdapters", "LoomTokenizer", "LoomData",
                                                   "LoomImages", "LoomAudio", "LoomTensor", "LoomTraining"], swiftSettings: v5),
        .executableTarget(name: "loom-fuzz", dependencies: ["LoomFuzzing"], swiftSettings: v5),
        // A modality defined entirely outside Loom's sources (docs/adding-a-modality.md).
        .target(name: "ExampleIMUModality", dependencies: ["LoomModels", "LoomAdapters", "LoomData", "LoomTensor", "LoomNN", "LoomCheckpoint"],
                swiftSettings: v5),
        .executableTarget(
            name: "loom",
            dependencies: [
                "LoomTensor", "LoomCheckpoint", "LoomNN", "LoomAdapters", "LoomModels", "LoomTraining",
                "LoomTokenizer", "LoomImages", "LoomAudio", "LoomData", "LoomWorld", "LoomDemo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: v5),

        .testTarget(name: "LoomTensorTests", dependencies: ["LoomTensor", "CLoomKernels"], swiftSettings: v5),
        .testTarget(name: "LoomCheckpointTests", dependencies: ["LoomCheckpoint"],
                    resources: [.copy("Fixtures")], swiftSettings: v5),
        .testTarget(name: "LoomNNTests", dependencies: ["LoomNN"], swiftSettings: v5),
        .testTarget(name: "LoomAdaptersTests", dependencies: ["LoomAdapters", "LoomModels", "LoomTraining"],
                    resources: [.copy("Fixtures")], swiftSettings: v5),
        .testTarget(name: "LoomModelsTests", dependencies: ["LoomModels"],
                    resources: [.copy("Fixtures")], swiftSettings: v5),
        .testTarget(name: "LoomTokenizerTests", dependencies: ["LoomTokenizer"],
                    resources: [.copy("Fixtures")], swiftSettings: v5),
        .testTarget(name: "LoomImagesTests", dependencies: ["LoomImages"],
                    resources: [.copy("Fixtures")], swiftSettings: v5),
        .testTarget(name: "LoomAudioTests", dependencies: ["LoomAudio", "LoomCheckpoint"],
                    resources: [.copy("Fixtures")], swiftSettings: v5),
        .testTarget(name: "LoomDataTests", dependencies: ["LoomData"],
                    resources: [.copy("Fixtures")], swiftSettings: v5),
        .testTarget(name: "ExampleIMUModalityTests", dependencies: ["ExampleIMUModality", "LoomTraining"], swiftSettings: v5),
        .testTarget(name: "LoomDemoTests", dependencies: ["LoomDemo", "LoomTokenizer", "LoomWorld"], swiftSettings: v5),
        .testTarget(name: "LoomWorldTests", dependencies: ["LoomWorld", "LoomImages", "LoomAudio", "LoomData"],
                    swiftSettings: v5),
        .testTarget(name: "LoomFuzzingTests", dependencies: ["LoomFuzzing"], exclude: ["Corpus", "Regressions"],
                    swiftSettings: v5),
        .testTarget(name: "LoomTrainingTests", dependencies: ["LoomTraining"],
                    resources: [.copy("Fixtures")], swiftSettings: v5),
    ]
)
