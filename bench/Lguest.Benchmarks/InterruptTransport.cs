using Lguest.Hypervisor;
using Lguest.Virtio;

namespace Lguest.Benchmarks;

/// <summary>
/// The transport of a device driven with no guest CPU: a used-buffer interrupt signals an eventfd the benchmark's
/// driver thread sleeps on, as a vCPU waits for its interrupt; a bad driver or a device failure is the benchmark's bug.
/// </summary>
internal sealed class InterruptTransport : IVirtioTransport, IDisposable
{
    /// <summary>Signalled on every used-buffer interrupt, of any queue.</summary>
    public EventNotifier Interrupt { get; } = new();

    public void SignalUsedBuffers(int queueIndex) => Interrupt.Signal();

    public void SignalConfigChange()
    {
    }

    public void ReportBadDriver(BadDriverException badDriver) => throw badDriver;

    public void ReportDeviceFailure(string what, Exception? error) => throw new InvalidOperationException(what, error);

    public void Dispose() => Interrupt.Dispose();
}
