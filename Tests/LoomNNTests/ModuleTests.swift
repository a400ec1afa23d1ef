import XCTest
import LoomTensor
@testable import LoomNN

private final class Block: Module {
    @Child var selfAttn: Linear
    @Child("0") var first: Linear
    @Child var layers: [LayerNorm]
    @Child var missing: Linear?
    @Parameter var scale: Tensor
    @Parameter var bias: Tensor?

    override init() {
        selfAttn = Linear(3, 2)
        _first.wrappedValue = Linear(2, 2, bias: false)
        layers = [LayerNorm(2), LayerNorm(2)]
        missing = nil
        scale = Tensor(zeros: [1])
        bias = nil
    }
}

final class ModuleTests: XCTestCase {
    func testKeysFollowCheckpointNames() {
        let keys = Block().namedParameters().map(\.key)
        XCTAssertEqual(keys, ["scale", "self_attn.weight", "self_attn.bias", "0.weight",
                              "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"])
        XCTAssertEqual(snakeCase("postAttentionLayernorm"), "post_attention_layernorm")
        XCTAssertEqual(snakeCase("fc1"), "fc1")
    }

    func testFreezeAndUnfreeze() {
        let block = Block()
        block.unfreeze()
        XCTAssertEqual(block.trainableParameters.count, 8)
        block.layers[0].freeze()
        XCTAssertEqual(block.trainableParameters.count, 6)
        block.freeze()
        XCTAssertTrue(block.trainableParameters.isEmpty)
    }
}
