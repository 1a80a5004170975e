// ledger-bench: the job ledger's size and read speed at scale, on a real file.
//
//   ledger-bench [JOBS] [FOLDER]
//
// Records JOBS (default 100,000) jobs as the gateway does (create, accepted, started, the event
// log of a small run, progress, the end), in batches of 64 as concurrent submits arrive, then
// reports: the time taken, the file's size (database + WAL), the time to list the newest 50 with
// a filter (status and client id, median and worst of 200 reads), and the size after every job
// is pruned (freed pages go back to the file system). FOLDER defaults to a fresh temporary one,
// removed afterwards.

import Codecs
import Foundation
import Models
import Store

let jobs = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 100_000 : 100_000
let folder =
    CommandLine.arguments.count > 2
    ? CommandLine.arguments[2] : NSTemporaryDirectory() + "ledger-bench-\(UUID().uuidString)"
let path = folder + "/jobs.db"
defer { if CommandLine.arguments.count <= 2 { try? FileManager.default.removeItem(atPath: folder) } }

/// A realistic workflow: a checkpoint loader, prompts, a sampler, a decoder and a save node.
func workflow(_ index: Int) -> JSONValue {
    [
        "4": ["class_type": "CheckpointLoaderSimple", "inputs": ["ckpt_name": "sd_xl_base_1.0.safetensors"]],
        "6": [
            "class_type": "CLIPTextEncode",
            "inputs": ["text": .string("a photograph of a lighthouse at dusk, number \(index)"), "clip": ["4", 1]],
        ],
        "7": ["class_type": "CLIPTextEncode", "inputs": ["text": "blurry, low quality", "clip": ["4", 1]]],
        "5": ["class_type": "EmptyLatentImage", "inputs": ["width": 1024, "height": 1024, "batch_size": 1]],
        "3": [
            "class_type": "KSampler",
            "inputs": [
                "seed": .int(Int64(index)), "steps": 20, "cfg": 7, "sampler_name": "euler", "scheduler": "normal",
                "denoise": 1, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0],
            ],
        ],
        "8": ["class_type": "VAEDecode", "inputs": ["samples": ["3", 0], "vae": ["4", 2]]],
        "9": ["class_type": "SaveImage", "inputs": ["filename_prefix": "bench", "images": ["8", 0]]],
    ]
}

func id(_ index: Int) -> String {
    let hex = String(index, radix: 16)
    return "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex
}

func fileSize() -> Int {
    ["", "-wal"].reduce(0) { total, suffix in
        total + ((try? FileManager.default.attributesOfItem(atPath: path + suffix)[.size] as? Int) ?? 0)
    }
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

let store = try await SQLiteJobStore.open(.sqliteFile(path: path))
let clock = ContinuousClock()
let clients = ["web", "bot", "batch", "mobile"]
let started = clock.now
var batch: [Task<Void, any Error>] = []
for index in 0..<jobs {
    let job = JobRecord(
        id: id(index), clientID: clients[index % clients.count], backend: "b0",
        createdAt: 1_800_000_000_000 + Int64(index), workflow: workflow(index), extraData: [:])
    let output: JSONValue = [
        "images": [["filename": .string("bench_\(index)_.png"), "subfolder": "", "type": "output"]]
    ]
    let at = 1_800_000_000_000 + Int64(index)
    let ended: JobStatus = index % 10 == 0 ? .error : .success
    batch.append(
        Task {
            try await store.create(job, idempotency: nil)
            try await store.apply([
                .accepted(id: job.id, number: index), .started(id: job.id, at: at),
                .event(id: job.id, type: "status", data: ["status": "running"], at: at),
                .event(id: job.id, type: "executing", data: ["node": "3", "prompt_id": .string(job.id)], at: at),
                .progress(id: job.id, node: "3", data: ["value": 20, "max": 20, "node": "3"], at: at),
                .event(
                    id: job.id, type: "executed", data: ["node": "9", "output": output, "prompt_id": .string(job.id)],
                    at: at),
                .event(id: job.id, type: "result", data: ["status": .string(ended.rawValue)], at: at),
                .finished(id: job.id, status: ended, outputs: ["9": output], error: .null, at: at),
            ])
        })
    if batch.count == 64 {
        for task in batch { try await task.value }
        batch.removeAll()
    }
}
for task in batch { try await task.value }
let writing = clock.now - started
let size = fileSize()
print(
    String(
        format: "recorded %d jobs in %.1f s (%.0f jobs/s, 2 transactions each, batched)", jobs,
        milliseconds(writing) / 1000, Double(jobs) / (milliseconds(writing) / 1000)))
print(
    String(format: "ledger size: %.1f MiB (%.0f bytes per job)", Double(size) / 1_048_576, Double(size) / Double(jobs)))

var reads: [Double] = []
for round in 0..<200 {
    let query = JobQuery(statuses: [.success], clientID: clients[round % clients.count], limit: 50)
    let start = clock.now
    let page = try await store.jobs(matching: query)
    reads.append(milliseconds(clock.now - start))
    precondition(page.jobs.count == 50 && page.nextCursor != nil)
}
reads.sort()
print(
    String(
        format: "newest 50 with status=success&client_id=X: median %.3f ms, p99 %.3f ms, worst %.3f ms (200 reads)",
        reads[100], reads[197], reads[199]))

let pruned = try await store.prune(finishedBefore: .max, keysBefore: .max)
await store.close()
print(String(format: "pruned %d jobs; ledger size after: %.1f MiB", pruned, Double(fileSize()) / 1_048_576))
