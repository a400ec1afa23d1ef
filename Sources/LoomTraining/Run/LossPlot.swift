import CPNG
import Foundation

/// Renders loss curves to a PNG: train loss as a line, eval loss as dots, with the axis ranges
/// written in a small bitmap font. No plotting library needed.
enum LossPlot {
    static let width = 640, height = 400
    static let margin = (left: 70, right: 20, top: 30, bottom: 40)

    static func write(train: [(Double, Double)], eval: [(Double, Double)], title: String, to path: String) throws {
        var canvas = Canvas(width: width, height: height)
        let points = (train + eval).filter { $0.1.isFinite }
        let xs = points.map(\.0), ys = points.map(\.1)
        let xMin = xs.min() ?? 0, xMax = max(xs.max() ?? 1, xMin + 1)
        var yMin = ys.min() ?? 0, yMax = ys.max() ?? 1
        if yMax - yMin < 1e-9 { yMin -= 0.5; yMax += 0.5 }
        let plot = (x0: margin.left, y0: margin.top, x1: width - margin.right, y1: height - margin.bottom)
        func px(_ x: Double) -> Int { plot.x0 + Int((x - xMin) / (xMax - xMin) * Double(plot.x1 - plot.x0)) }
        func py(_ y: Double) -> Int { plot.y1 - Int((y - yMin) / (yMax - yMin) * Double(plot.y1 - plot.y0)) }
        // Axes and light grid.
        for i in 0...4 {
            let y = plot.y0 + i * (plot.y1 - plot.y0) / 4
            canvas.line(plot.x0, y, plot.x1, y, color: (230, 230, 230))
            let value = yMax - Double(i) * (yMax - yMin) / 4
            canvas.text(String(format: "%.3f", value), x: 6, y: y - 3, color: (60, 60, 60))
        }
        canvas.line(plot.x0, plot.y1, plot.x1, plot.y1, color: (0, 0, 0))
        canvas.line(plot.x0, plot.y0, plot.x0, plot.y1, color: (0, 0, 0))
        canvas.text(String(Int(xMin)), x: plot.x0, y: plot.y1 + 8, color: (60, 60, 60))
        canvas.text(String(Int(xMax)), x: plot.x1 - 8 * String(Int(xMax)).count, y: plot.y1 + 8, color: (60, 60, 60))
        canvas.text(title.uppercased(), x: plot.x0, y: 10, color: (0, 0, 0))
        canvas.text("STEP", x: (plot.x0 + plot.x1) / 2 - 16, y: plot.y1 + 20, color: (60, 60, 60))
        // Train: blue line; eval: red squares.
        let trainPoints = train.filter { $0.1.isFinite }
        for (a, b) in zip(trainPoints, trainPoints.dropFirst()) {
            canvas.line(px(a.0), py(a.1), px(b.0), py(b.1), color: (31, 119, 180))
        }
        if trainPoints.count == 1 { canvas.square(px(trainPoints[0].0), py(trainPoints[0].1), color: (31, 119, 180)) }
        for point in eval where point.1.isFinite { canvas.square(px(point.0), py(point.1), color: (214, 39, 40)) }
        canvas.text("TRAIN", x: plot.x1 - 120, y: 10, color: (31, 119, 180))
        if !eval.isEmpty { canvas.text("EVAL", x: plot.x1 - 50, y: 10, color: (214, 39, 40)) }
        try canvas.writePNG(path)
    }
}

/// An RGB raster with lines, squares and 3×5 bitmap text (scaled ×2).
struct Canvas {
    let width: Int, height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 255, count: width * height * 3)
    }

    mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = c.0; pixels[i + 1] = c.1; pixels[i + 2] = c.2
    }

    /// Bresenham, two pixels thick.
    mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, color: (UInt8, UInt8, UInt8)) {
        var (x, y) = (x0, y0)
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            set(x, y, color); set(x, y + 1, color)
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    mutating func square(_ x: Int, _ y: Int, color: (UInt8, UInt8, UInt8)) {
        for dy in -3...3 { for dx in -3...3 { set(x + dx, y + dy, color) } }
    }

    /// 3×5 glyphs, rows top to bottom as 3-bit masks.
    static let glyphs: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
        "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 2, 2], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
        ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0], ":": [0, 2, 0, 2, 0], "_": [0, 0, 0, 0, 7], " ": [0, 0, 0, 0, 0],
        "A": [2, 5, 7, 5, 5], "B": [6, 5, 6, 5, 6], "C": [3, 4, 4, 4, 3], "D": [6, 5, 5, 5, 6], "E": [7, 4, 6, 4, 7],
        "F": [7, 4, 6, 4, 4], "G": [3, 4, 5, 5, 3], "H": [5, 5, 7, 5, 5], "I": [7, 2, 2, 2, 7], "J": [1, 1, 1, 5, 2],
        "K": [5, 5, 6, 5, 5], "L": [4, 4, 4, 4, 7], "M": [5, 7, 7, 5, 5], "N": [6, 5, 5, 5, 5], "O": [2, 5, 5, 5, 2],
        "P": [6, 5, 6, 4, 4], "Q": [2, 5, 5, 6, 3], "R": [6, 5, 6, 5, 5], "S": [3, 4, 2, 1, 6], "T": [7, 2, 2, 2, 2],
        "U": [5, 5, 5, 5, 7], "V": [5, 5, 5, 5, 2], "W": [5, 5, 7, 7, 5], "X": [5, 5, 2, 5, 5], "Y": [5, 5, 2, 2, 2],
        "Z": [7, 1, 2, 4, 7],
    ]

    mutating func text(_ string: String, x: Int, y: Int, color: (UInt8, UInt8, UInt8)) {
        var cursor = x
        for ch in string {
            let rows = Canvas.glyphs[ch] ?? Canvas.glyphs[Character(ch.uppercased())] ?? [7, 5, 5, 5, 7]
            for (r, bits) in rows.enumerated() {
                for c in 0..<3 where bits & (4 >> c) != 0 {
                    for sy in 0..<2 { for sx in 0..<2 { set(cursor + c * 2 + sx, y + r * 2 + sy, color) } }
                }
            }
            cursor += 8
        }
    }

    /// libpng's simplified write API (no setjmp in Swift).
    func writePNG(_ path: String) throws {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = UInt32(PNG_FORMAT_RGB)
        let temporary = path + ".partial"
        let ok = pixels.withUnsafeBufferPointer { buffer in
            png_image_write_to_file(&image, temporary, 0, buffer.baseAddress, Int32(width * 3), nil)
        }
        guard ok != 0 else {
            let message = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            png_image_free(&image)
            throw RecipeError("cannot write \(path): \(message)")
        }
        guard rename(temporary, path) == 0 else { throw RecipeError("cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}
