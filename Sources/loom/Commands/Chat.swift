import ArgumentParser
import Foundation
import LoomData
import LoomModels
import LoomTraining

/// `loom chat --run RUN_DIR [--image P] [--audio P] "prompt"`, or an interactive loop without a prompt.
struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Talk to a trained model (KV-cache generation).")

    @Option(name: .customLong("run"), help: "Run folder written by loom train.") var runDirectory: String
    @Option(help: "An image the first message refers to.") var image: String?
    @Option(help: "An audio file the first message refers to.") var audio: String?
    @Option(help: "Tokens to generate per reply.") var maxNewTokens = 128
    @Option(help: "Sampling temperature (0: greedy).") var temperature: Float = 0
    @Option(help: "Nucleus sampling mass.") var topP: Float = 1
    @Option(help: "Sampling seed.") var seed: UInt64 = 0
    @Argument(help: "The message; without one, an interactive session reads messages from standard input.") var prompt: String?
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        let (training, stage) = try TrainingRun.openFinished(URL(fileURLWithPath: runDirectory))
        let responder = Responder(run: training, stage: stage,
                                  options: GenerationOptions(maxNewTokens: maxNewTokens, temperature: temperature, topP: topP, seed: seed))
        var media: [String: [String]] = [:]
        var prefix = ""
        if let image { media["image"] = [image]; prefix += "<image>\n" }
        if let audio { media["audio"] = [audio]; prefix += "<audio>\n" }
        if let prompt {
            print(try responder.reply(to: [.init(from: "human", value: prefix + prompt)], media: media))
            return
        }
        print("Chatting with \(runDirectory) (stage \(stage.name), template \(stage.template.rawValue)). Empty line or Ctrl-D ends.")
        var turns: [Conversation.Turn] = []
        while true {
            FileHandle.standardOutput.write(Data("you> ".utf8))
            guard let line = readLine(), !line.trimmingCharacters(in: .whitespaces).isEmpty else { break }
            turns.append(.init(from: "human", value: (turns.isEmpty ? prefix : "") + line))
            let answer = try responder.reply(to: turns, media: media)
            print("loom> \(answer)")
            turns.append(.init(from: "gpt", value: answer))
        }
    }
}
