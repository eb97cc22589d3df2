using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Lguest.Cli.Api;

namespace Lguest.Fuzz.Targets;

/// <summary>
/// The API socket's request parser (<see cref="ApiRequestParser"/>, also <c>--config-file</c>'s) on a client's bytes:
/// a request body parses into its record or comes back as one line for Firecracker's fault body; nothing else may
/// come out of it. What parses must write back to JSON that parses to the same, and the checks of the record that
/// touch no host file (machine-config, ids, MAC and interface name, vsock CID) answer without throwing.
/// </summary>
/// <remarks>
/// Layout: byte 0 picks the body's type (<see cref="Types"/>, modulo their count), the rest is the body. The drive's,
/// boot source's and snapshot load's checks open host files a client names and are left out: a fuzzer's path could
/// name a FIFO.
/// </remarks>
public sealed class ApiRequestTarget : FuzzTarget, IDisposable
{
    private const string Deserializing = "An error occurred when deserializing the json body of a request: ";

    private static readonly (string Name, Action<byte[]> Check)[] Types =
    [
        ("boot-source", body => Check(body, ApiJsonContext.Default.BootSource, null)),
        ("drive", body => Check(body, ApiJsonContext.Default.Drive, d => ApiRequestParser.CheckId(d.DriveId))),
        ("network-interface", body => Check(body, ApiJsonContext.Default.NetworkInterface, n => ApiRequestParser.CheckId(n.IfaceId) ?? n.Validate(out _))),
        ("machine-config", body => Check(body, ApiJsonContext.Default.MachineConfiguration, m => m.Validate())),
        ("machine-config-patch", body => Check(body, ApiJsonContext.Default.MachineConfigurationUpdate, u => u.ApplyTo(MachineConfiguration.Default).Validate())),
        ("vsock", body => Check(body, ApiJsonContext.Default.Vsock, v => v.Validate())),
        ("entropy", body => Check(body, ApiJsonContext.Default.Entropy, e => e.Validate())),
        ("action", body => Check(body, ApiJsonContext.Default.InstanceActionInfo, null)),
        ("vm", body => Check(body, ApiJsonContext.Default.VmState, null)),
        ("config-file", body => Check(body, ApiJsonContext.Default.FullVmConfiguration, c => c.MachineConfig?.Validate())),
        ("snapshot-create", body => Check(body, ApiJsonContext.Default.SnapshotCreateParams, c => c.Validate())),
        ("snapshot-load", body => Check(body, ApiJsonContext.Default.SnapshotLoadParams, null)),
    ];

    /// <inheritdoc />
    public override string Name => "api-request";

    /// <inheritdoc />
    public override int MaxInputLength => 1 + 4096;

    /// <inheritdoc />
    public void Dispose()
    {
    }

    /// <inheritdoc />
    protected override void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        int type = reader.Byte() % Types.Length;
        Types[type].Check(reader.Rest.ToArray());
    }

    private static void Check<T>(byte[] body, JsonTypeInfo<T> type, Func<T, string?>? validate) where T : class
    {
        if (!ApiRequestParser.TryParse(body, type, out T? value, out string? fault))
        {
            if (fault.Length == 0 || fault.Contains('\n', StringComparison.Ordinal) || !fault.StartsWith(Deserializing, StringComparison.Ordinal))
                throw new InvariantViolationException($"a refusal is not one line of Firecracker's deserializing fault: '{fault}'");
            CheckFaultBody(fault);
            return;
        }
        byte[] written = JsonSerializer.SerializeToUtf8Bytes(value, type);
        if (!ApiRequestParser.TryParse(written, type, out T? again, out string? why))
            throw new InvariantViolationException($"a parsed {typeof(T).Name} writes JSON that does not parse: {why}");
        if (!JsonSerializer.SerializeToUtf8Bytes(again, type).AsSpan().SequenceEqual(written))
            throw new InvariantViolationException($"a parsed {typeof(T).Name} reads back as another");
        if (validate?.Invoke(value) is { } refusal)
            CheckFaultBody(refusal);
    }

    // Whatever the message, the fault body is JSON with that one field and that message.
    private static void CheckFaultBody(string message)
    {
        using JsonDocument body = JsonDocument.Parse(ApiResults.FaultBody(message));
        if (body.RootElement.GetProperty("fault_message").GetString() != message || body.RootElement.EnumerateObject().Count() != 1)
            throw new InvariantViolationException("a fault body does not carry its message alone");
    }

    /// <inheritdoc />
    public override IEnumerable<KeyValuePair<string, byte[]>> Seeds()
    {
        string[] bodies =
        [
            """{"kernel_image_path": "/vmlinux", "boot_args": "console=ttyS0 reboot=k panic=1 pci=off", "initrd_path": "/initrd"}""",
            """{"drive_id": "rootfs", "path_on_host": "/rootfs.ext4", "is_root_device": true, "is_read_only": false, "partuuid": "0eaa91a0-01", "cache_type": "Unsafe", "io_engine": "Sync"}""",
            """{"iface_id": "eth0", "host_dev_name": "lo", "guest_mac": "06:00:AC:10:00:02"}""",
            """{"vcpu_count": 2, "mem_size_mib": 1024, "smt": false, "track_dirty_pages": false}""",
            """{"mem_size_mib": 512}""",
            """{"guest_cid": 3, "uds_path": "/tmp/v.sock"}""",
            """{}""",
            """{"action_type": "InstanceStart"}""",
            """{"state": "Paused"}""",
            """{"boot-source": {"kernel_image_path": "/vmlinux"}, "drives": [{"drive_id": "rootfs", "path_on_host": "/r", "is_root_device": true}], "network-interfaces": [], "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}, "vsock": {"guest_cid": 3, "uds_path": "/v"}, "entropy": {"rate_limiter": {"bandwidth": {"size": 1, "refill_time": 100}}}}""",
            """{"snapshot_path": "/tmp/snap", "mem_file_path": "/tmp/mem", "snapshot_type": "Full"}""",
            """{"snapshot_path": "/tmp/snap", "mem_backend": {"backend_type": "File", "backend_path": "/tmp/mem"}, "resume_vm": true, "network_overrides": [{"iface_id": "eth0", "host_dev_name": "tap1"}], "vsock_override": {"uds_path": "/v"}}""",
        ];
        for (int i = 0; i < Types.Length; i++)
            yield return new(Types[i].Name, [(byte)i, .. Encoding.UTF8.GetBytes(bodies[i])]);
    }
}
