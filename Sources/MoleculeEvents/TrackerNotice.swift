package import Codecs
import Models

/// What the job tracker tells the layer above, in the order it must be delivered. Messages for
/// one prompt name the client id the prompt was submitted with; `status` and the upstream
/// notices are for every socket.
package enum TrackerNotice: Sendable, Equatable {
    /// ComfyUI's queue status (`{"status": {"exec_info": {"queue_remaining": n}}}`), for every socket.
    case status(JSONValue)
    /// The prompt started running (sent once, before its first `executing`).
    case started(clientID: String, promptID: String)
    /// A `progress`, `executing` or `executed` message for the sockets of `clientID`; `data`
    /// always carries the `prompt_id`. `frame` is ComfyUI's own text when the message goes out
    /// unchanged (it is then sent as it came, not written again); nil when the tracker filled
    /// something in.
    case message(clientID: String, kind: ProgressKind, data: JSONValue, frame: [UInt8]?)
    /// A binary frame (preview image or node text), exactly as ComfyUI framed it, for the
    /// sockets of `clientID`.
    case binary(clientID: String, frame: [UInt8])
    /// The prompt ended and `entry` is its history entry: read from ComfyUI after its
    /// `executing` null, or, when ComfyUI no longer had it, put together from the messages the
    /// tracker saw (`fromHistory` false). Sent once per prompt.
    case finished(clientID: String, promptID: String, entry: JSONValue, fromHistory: Bool)
    /// ComfyUI no longer knows the prompt (restarted, or the prompt was deleted from its queue
    /// or history) and it never reported an end; `reason` says so in a sentence. Sent once per
    /// prompt, never after `finished`.
    case lost(clientID: String, promptID: String, reason: String)
    /// The upstream socket dropped (`reason`); prompts are still tracked.
    case upstreamDisconnected(reason: String)
    /// The upstream socket is back after a drop; missed ends follow as `finished` or `lost`.
    case upstreamReconnected
}

/// The kinds of ComfyUI message a prompt's client hears while it runs.
package enum ProgressKind: String, Sendable, Equatable {
    case executing, progress, executed
}
