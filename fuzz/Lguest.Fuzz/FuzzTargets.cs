using Lguest.Fuzz.Targets;

namespace Lguest.Fuzz;

/// <summary>Every fuzz target by name: what fuzz/run.sh and the corpus replay tests pick from.</summary>
public static class FuzzTargets
{
    /// <summary>The targets' names, in the order fuzz/run.sh all runs them.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["vring", "virtio-pci", "virtio-blk", "virtio-net-tx", "virtio-fs", "virtio-vsock", "kernel-loader", "lguest-emulation", "snapshot", "snapshot-devices", "api-request"];

    /// <summary>
    /// Creates the target called <paramref name="name"/>. Dispose it when done (they hold guest memory, files, a tap).
    /// virtio-net-tx creates a tap in the calling thread's network namespace and needs CAP_NET_ADMIN.
    /// </summary>
    /// <exception cref="ArgumentException">No target has that name.</exception>
    public static FuzzTarget Create(string name) => name switch
    {
        "vring" => new VringTarget(),
        "virtio-pci" => new VirtioPciTransportTarget(),
        "virtio-blk" => new VirtioBlockTarget(),
        "virtio-net-tx" => VirtioNetTransmitTarget.Create(),
        "virtio-fs" => new VirtioFsTarget(),
        "virtio-vsock" => new VirtioVsockTarget(),
        "kernel-loader" => new KernelLoaderTarget(),
        "lguest-emulation" => new LguestEmulationTarget(),
        "snapshot" => new SnapshotTarget(),
        "snapshot-devices" => new SnapshotDevicesTarget(),
        "api-request" => new ApiRequestTarget(),
        _ => throw new ArgumentException($"unknown fuzz target '{name}' (known: {string.Join(", ", Names)})", nameof(name)),
    };
}
