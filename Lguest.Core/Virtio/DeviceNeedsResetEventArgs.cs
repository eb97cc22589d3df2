namespace Lguest.Virtio;

/// <summary>A virtio device entered DEVICE_NEEDS_RESET: its driver broke a rule, or the device failed by itself.</summary>
public sealed class DeviceNeedsResetEventArgs : EventArgs
{
    /// <summary>Describes the event.</summary>
    /// <param name="device">The device's name.</param>
    /// <param name="message">One line: "rng vq 0: bad driver: Looped descriptor ..." or "rng: device failed: ...".</param>
    /// <param name="badDriver">The driver's error, or null when the device failed by itself.</param>
    /// <param name="exception">The exception behind it, if any (the bad-driver error itself, or the device's).</param>
    public DeviceNeedsResetEventArgs(string device, string message, BadDriverException? badDriver, Exception? exception)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(message);
        Device = device;
        Message = message;
        BadDriver = badDriver;
        Exception = exception;
    }

    /// <summary>The device's name ("rng", "block0").</summary>
    public string Device { get; }

    /// <summary>What happened, one line.</summary>
    public string Message { get; }

    /// <summary>The driver's error, or null when the device failed by itself.</summary>
    public BadDriverException? BadDriver { get; }

    /// <summary>Whether the driver was at fault (else the device failed by itself).</summary>
    public bool IsBadDriver => BadDriver is not null;

    /// <summary>The exception behind it, if any.</summary>
    public Exception? Exception { get; }
}
