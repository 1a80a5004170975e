import Codecs
import Coordinators
import Models
import Routing

/// `/api/v1/queue/...`: status and clear.
enum QueueRoutes {
    static func operations(_ coordinator: QueueCoordinator) -> [APIOperation] {
        [
            APIOperation(
                method: .get, path: "/api/v1/queue/status", operationID: "getQueueStatus", tag: "queue",
                summary: "What runs and what waits", description: "Pending prompts are listed in run order.",
                replies: [.json(200, "The queue.", schema: "QueueStatus")] + APIOperation.upstreamErrors
            ) { _, _ in
                await .api(try await coordinator.status())
            },
            APIOperation(
                method: .post, path: "/api/v1/queue/clear", operationID: "clearQueue", tag: "queue",
                summary: "Clear the pending queue, or remove some prompts from it",
                description: """
                    `{"clear": true}` removes every pending prompt; `{"delete": [ids]}` removes those (running \
                    prompts are not affected; interrupt them instead). One of the two is required.
                    """,
                requestBody: APIOperation.jsonBody("QueueClearRequest"),
                replies: [
                    .json(200, "Done; `removed` counts the pending prompts removed.", schema: "QueueClearResult"),
                    .error(502, "QUEUE_OPERATION_ERROR or CONNECTION_ERROR."),
                ] + APIOperation.bodyErrors + APIOperation.upstreamErrors.filter { $0.status != 502 }
            ) { request, _ in
                let object = try await RequestDecoding.jsonObject(request, limit: 1024 * 1024)
                var decoding = RequestDecoding()
                let clear = decoding.optionalBool(object, "clear") ?? false
                let delete = decoding.optionalStrings(object, "delete")
                if !clear && delete == nil && object["delete"]?.isNull != false {
                    decoding.fail("clear", "must be true when 'delete' is not given")
                }
                try decoding.check()
                return await .api(try await coordinator.clear(QueueClearRequest(clear: clear, delete: delete)))
            },
        ]
    }
}
