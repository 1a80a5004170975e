// MoleculeImage (L3): uploads and cached downloads, composed from AtomComfyHTTP, AtomFiles and
// AtomValidation. Never imports another molecule.

package import AtomComfyHTTP
import AtomFiles
import AtomValidation
package import Core
package import Models
package import Reactor

/// The image business: uploads (checked, stored under `INPUT_DIR`, forwarded to ComfyUI) and
/// downloads (served from the `OUTPUT_DIR` cache, else streamed from ComfyUI while the cache is
/// written), with memory flat at any file size. Loop-bound.
package struct ImageStore: Sendable {
    let api: ComfyAPI
    let inputs: LocalDirectory
    let outputs: LocalDirectory

    /// An image store over the backend's transfer connections (downloads then never hold up
    /// the JSON calls of the other molecules), with the configured local directories.
    package init(backend: ComfyBackend, configuration: GatewayConfiguration, loop: EventLoop) {
        api = backend.transfers
        inputs = LocalDirectory(root: configuration.inputDirectory, loop: loop)
        outputs = LocalDirectory(root: configuration.outputDirectory, loop: loop)
    }

    /// Checks a location's file name and subfolder (400 `FILE_OPERATION_ERROR` when unsafe).
    package static func check(_ location: FileLocation) throws(GatewayError) {
        try SafeName.checkFilename(location.filename)
        try SafeName.checkSubfolder(location.subfolder)
    }

    /// The gateway URL that downloads `location`, under `base` (`http://host:port`).
    package static func downloadURL(_ location: FileLocation, base: String) -> String {
        "\(base)/api/v1/images/download?\(location.query)"
    }

    /// The gateway and ComfyUI URLs of a file.
    package func urls(_ location: FileLocation, base: String) throws(GatewayError) -> ImageURLs {
        try Self.check(location)
        return ImageURLs(url: Self.downloadURL(location, base: base), comfyURL: "\(api.baseURL)/view?\(location.query)")
    }
}
