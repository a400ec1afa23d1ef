import XCTest
@testable import LoomWorld

final class SceneTests: XCTestCase {
    func testScenesFollowTheSpec() {
        let scenes = sampleScenes(6000)
        var objectCounts = [Int](repeating: 0, count: 4)
        var shapes: [Shape: Int] = [:], sizes: [Size: Int] = [:]
        for scene in scenes {
            let objects = scene.objects
            XCTAssert((1...3).contains(objects.count))
            objectCounts[objects.count] += 1
            XCTAssertEqual(Set(objects.map { $0.row * 4 + $0.col }).count, objects.count, "cells are distinct")
            XCTAssertEqual(Set(objects.map { "\($0.colour) \($0.shape)" }).count, objects.count, "(colour, shape) unique")
            XCTAssert((200...235).contains(scene.backgroundLevel))
            for object in objects {
                shapes[object.shape, default: 0] += 1
                sizes[object.size, default: 0] += 1
                XCTAssert((0..<4).contains(object.row) && (0..<4).contains(object.col))
                let r = object.radius
                XCTAssert(object.size == .small ? (3.5...4.5).contains(r) : (6.0...7.0).contains(r))
                let cellX = Double(object.col * 16) + 8, cellY = Double(object.row * 16) + 8
                XCTAssertLessThanOrEqual(abs(object.centerX - cellX), 7.5 - r + 1e-12)
                XCTAssertLessThanOrEqual(abs(object.centerY - cellY), 7.5 - r + 1e-12)
                let base = object.colour.baseRGB
                for (channel, value) in zip([base.0, base.1, base.2], object.rgb) {
                    XCTAssertLessThanOrEqual(abs(Int(channel) - Int(value)), 15)
                }
            }
        }
        for n in 1...3 { XCTAssertEqual(Double(objectCounts[n]), 2000, accuracy: 150, "\(n)-object scenes") }
        for shape in Shape.allCases { XCTAssertGreaterThan(shapes[shape, default: 0], 2500) }
        XCTAssertEqual(Double(sizes[.small, default: 0]) / Double(sizes[.large, default: 1]), 1, accuracy: 0.1)
    }

    func testSignatureIgnoresOrderAndJitter() {
        let scene = sampleScenes(1, seed: 3)[0]
        var shuffled = scene
        shuffled.objects.reverse()
        shuffled.objects[0].centerX += 0.1
        shuffled.objects[0].rgb = [0, 0, 0]
        shuffled.backgroundLevel = 201
        XCTAssertEqual(scene.signature, shuffled.signature)
        var other = scene
        other.objects[0].size = other.objects[0].size == .small ? .large : .small
        XCTAssertNotEqual(scene.signature, other.signature)
    }

    func testGridNotationWritesThreeWordsPerCellInReadingOrder() {
        let objects = [
            WorldObject(shape: .square, colour: .blue, size: .small, row: 3, col: 3, centerX: 56, centerY: 56, radius: 4, rgb: [0, 0, 0]),
            WorldObject(shape: .circle, colour: .red, size: .large, row: 0, col: 1, centerX: 24, centerY: 8, radius: 6, rgb: [0, 0, 0]),
        ]
        let words = GridNotation.text(for: Scene(objects: objects, backgroundLevel: 220, noiseSeed: 0)).split(separator: " ")
        XCTAssertEqual(words.count, 48)
        XCTAssertEqual(words[3..<6], ["large", "red", "circle"])
        XCTAssertEqual(words[45..<48], ["small", "blue", "square"])
        XCTAssertEqual(words.filter { $0 == "empty" }.count, 42)
        XCTAssertEqual(Set(words).isSubset(of: Set(GridNotation.vocabulary.map { Substring($0) })), true)
    }

    func testCaptionListsObjectsInReadingOrder() {
        func object(_ shape: Shape, _ colour: Colour, _ size: Size, _ row: Int, _ col: Int) -> WorldObject {
            WorldObject(shape: shape, colour: colour, size: size, row: row, col: col,
                        centerX: Double(col * 16 + 8), centerY: Double(row * 16 + 8), radius: 4, rgb: [0, 0, 0])
        }
        let one = Scene(objects: [object(.circle, .red, .large, 0, 0)], backgroundLevel: 220, noiseSeed: 0)
        XCTAssertEqual(Caption.text(for: one), "a large red circle at the top left.")
        let two = Scene(objects: [object(.square, .blue, .small, 3, 3), object(.circle, .red, .large, 0, 0)],
                        backgroundLevel: 220, noiseSeed: 0)
        XCTAssertEqual(Caption.text(for: two),
                       "a large red circle at the top left and a small blue square at the bottom right.")
        let three = Scene(objects: [object(.diamond, .black, .small, 2, 1), object(.triangle, .yellow, .large, 1, 2),
                                    object(.circle, .green, .small, 1, 0)], backgroundLevel: 220, noiseSeed: 0)
        XCTAssertEqual(Caption.text(for: three), "a small green circle at the top left, a large yellow triangle at "
                       + "the top right and a small black diamond at the bottom left.")
    }
}
