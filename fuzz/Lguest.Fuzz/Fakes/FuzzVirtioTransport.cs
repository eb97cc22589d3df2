using Lguest.Virtio;

namespace Lguest.Fuzz.Fakes;

/// <summary>The transport a device worker talks back to, for targets that drive a device's queue directly: it counts.</summary>
internal sealed class FuzzVirtioTransport : IVirtioTransport
{
    public int UsedBufferSignals { get; private set; }

    public int ConfigChanges { get; private set; }

    public BadDriverException? BadDriver { get; private set; }

    public void SignalUsedBuffers(int queueIndex) => UsedBufferSignals++;

    public void SignalConfigChange() => ConfigChanges++;

    public void ReportBadDriver(BadDriverException badDriver) => BadDriver ??= badDriver;

    // A device failing on its own is a bug the fuzzer must see: let it crash the target.
    public void ReportDeviceFailure(string what, Exception? error) => throw new InvalidOperationException(what, error);
}
