using System.Text.Json.Serialization;

namespace Lguest.Cli.Api;

/// <summary>
/// <c>--config-file</c> (Firecracker's FullVmConfiguration, its <c>--config-file</c> format): the resources the API
/// would configure one by one, in one JSON object, with Firecracker's hyphenated keys. A key lguest has no device or
/// setting for (balloon, logger, metrics, mmds-config...) is an unknown field: the file is refused, naming it.
/// </summary>
/// <param name="BootSource">"boot-source": required to start.</param>
/// <param name="Drives">"drives".</param>
/// <param name="NetworkInterfaces">"network-interfaces".</param>
/// <param name="MachineConfig">"machine-config": Firecracker's default (1 vCPU, 128 MiB) when absent.</param>
/// <param name="Vsock">"vsock".</param>
/// <param name="Entropy">"entropy".</param>
internal sealed record FullVmConfiguration(
    [property: JsonPropertyName("boot-source")] BootSource? BootSource = null,
    [property: JsonPropertyName("drives")] IReadOnlyList<Drive>? Drives = null,
    [property: JsonPropertyName("network-interfaces")] IReadOnlyList<NetworkInterface>? NetworkInterfaces = null,
    [property: JsonPropertyName("machine-config")] MachineConfiguration? MachineConfig = null,
    [property: JsonPropertyName("vsock")] Vsock? Vsock = null,
    [property: JsonPropertyName("entropy")] Entropy? Entropy = null);
