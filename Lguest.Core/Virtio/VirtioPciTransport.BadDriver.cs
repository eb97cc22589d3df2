namespace Lguest.Virtio;

// What happens when the driver breaks the rules (virtio 1.2 §2.1.2): the device sets DEVICE_NEEDS_RESET,
// sends a configuration change notification if it was live, stops, and ignores the driver's writes until
// the driver resets it. Logged once per breakage. Strict mode makes it fatal instead. A device that fails by
// itself (a bug, a broken host resource) shows the same status, never fatal.
public sealed partial class VirtioPciTransport
{
    private int _brokenFlag;

    private bool _broken
    {
        get => Volatile.Read(ref _brokenFlag) != 0;
        set => Volatile.Write(ref _brokenFlag, value ? 1 : 0);
    }

    /// <summary>Whether the device is in DEVICE_NEEDS_RESET, waiting for the driver to reset it.</summary>
    public bool NeedsReset => _broken;

    // A misuse found on a register path outside the common configuration's lock.
    private void ReportRegisterMisuse(string what)
    {
        lock (_lock)
            BadDriver(what);
    }

    // A misuse found on a vCPU thread, under _lock.
    private void BadDriver(string what) => MarkBroken(new BadDriverException(Name, what), onVcpu: true);

    private void MarkBroken(BadDriverException error, bool onVcpu)
    {
        // Strict: end the run before the device shows DEVICE_NEEDS_RESET, as the seed exited on the spot; else a
        // vCPU could read the status, go on, and end the run some other way first.
        if (_options.Strict)
            _options.Fatal?.Invoke(error);
        if (Interlocked.Exchange(ref _brokenFlag, 1) == 0)
        {
            // In strict mode with a Fatal callback the launcher ends with this very message: one line, as the seed.
            if (!_options.Strict || _options.Fatal is null)
            {
                _logger.BadDriver(Name, error.What);
                _options.NeedsReset?.Invoke(new DeviceNeedsResetEventArgs(Name, error.Message, error, error));
            }
            // §2.1.2: after setting DEVICE_NEEDS_RESET a live device MUST send a configuration change
            // notification. Before DRIVER_OK the driver has no handler yet: a raised line would be nobody's.
            if ((_status & VirtioDeviceStatus.DriverOk) != 0)
                NotifyConfigChange();
            if (onVcpu)
            {
                // Stop the device now: its queues may be what the driver is breaking. A worker that found
                // the error itself stops on its own (it cannot wait for itself here).
                RevokeActivationLocked();
                _device.Reset();
            }
        }
        if (_options.Strict && onVcpu)
            throw error;
    }

    // The device failed on its own (a worker's unexpected exception, or Activate's): DEVICE_NEEDS_RESET as for a
    // bad driver, but never the end of the run, strict or not: the driver broke no rule.
    private void MarkFailed(string what, Exception? error, bool onVcpu)
    {
        if (Interlocked.Exchange(ref _brokenFlag, 1) != 0)
            return;
        _logger.DeviceFailed(Name, what, error);
        _options.NeedsReset?.Invoke(new DeviceNeedsResetEventArgs(Name, $"{Name}: device failed: {what}", null, error));
        if ((_status & VirtioDeviceStatus.DriverOk) != 0)
            NotifyConfigChange();
        if (onVcpu)
        {
            RevokeActivationLocked();
            _device.Reset();
        }
    }
}
