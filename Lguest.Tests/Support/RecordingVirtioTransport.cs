using System.Collections.Concurrent;
using Lguest.Hypervisor;
using Lguest.Virtio;

namespace Lguest.Tests.Support;

/// <summary>
/// An <see cref="IVirtioTransport"/> that records what a device asks of it: used-buffer interrupts per
/// queue (and wakes a driver waiting for one), configuration changes, bad-driver and device-failure reports.
/// </summary>
internal sealed class RecordingVirtioTransport : IVirtioTransport, IDisposable
{
    private readonly ConcurrentDictionary<int, int> _signals = new();
    private readonly ConcurrentQueue<BadDriverException> _badDrivers = new();
    private readonly ConcurrentQueue<(string What, Exception? Error)> _failures = new();

    /// <summary>Signalled on every used-buffer interrupt, whatever the queue.</summary>
    public EventNotifier Interrupt { get; } = new();

    /// <summary>Signalled on every bad-driver or device-failure report.</summary>
    public EventNotifier BadDriverReported { get; } = new();

    public int ConfigChanges;

    public IReadOnlyCollection<BadDriverException> BadDrivers => _badDrivers;

    /// <summary>The device's own failures, as reported.</summary>
    public IReadOnlyCollection<(string What, Exception? Error)> DeviceFailures => _failures;

    /// <summary>The used-buffer interrupts queue <paramref name="queue"/> asked for.</summary>
    public int Signals(int queue) => _signals.GetValueOrDefault(queue);

    public void SignalUsedBuffers(int queueIndex)
    {
        _signals.AddOrUpdate(queueIndex, 1, (_, n) => n + 1);
        Interrupt.Signal();
    }

    public void SignalConfigChange() => Interlocked.Increment(ref ConfigChanges);

    public void ReportBadDriver(BadDriverException badDriver)
    {
        _badDrivers.Enqueue(badDriver);
        BadDriverReported.Signal();
    }

    public void ReportDeviceFailure(string what, Exception? error)
    {
        _failures.Enqueue((what, error));
        BadDriverReported.Signal();
    }

    /// <summary>Waits for the first bad-driver report, failing the test after <see cref="VirtqueueDriver.PatienceMilliseconds"/>.</summary>
    public BadDriverException WaitForBadDriver()
    {
        if (_badDrivers.IsEmpty && !BadDriverReported.Wait(timeoutMilliseconds: VirtqueueDriver.PatienceMilliseconds))
            Assert.Fail("the device reported no bad driver");
        return _badDrivers.First();
    }

    public void Dispose()
    {
        Interrupt.Dispose();
        BadDriverReported.Dispose();
    }
}
