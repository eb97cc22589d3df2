namespace Lguest.Virtio;

/// <summary>
/// The guest's driver broke a rule of the virtio specification (a looping descriptor chain, a
/// buffer outside guest memory, a feature never offered). Costs only the device it names: the
/// transport puts that device in DEVICE_NEEDS_RESET, or, in strict mode, the launcher stops with
/// the lguest seed's message.
/// </summary>
public sealed class BadDriverException : LguestException
{
    /// <summary>Creates the exception in the seed's format: <c>&lt;device&gt;: bad driver: &lt;what&gt;</c>.</summary>
    /// <param name="device">The device or queue name, as in "virtio-blk" or "virtio-blk vq 0".</param>
    /// <param name="what">What the driver did wrong.</param>
    public BadDriverException(string device, string what) : base($"{device}: bad driver: {what}")
    {
        Device = device;
        What = what;
    }

    /// <summary>The device or queue that was misused.</summary>
    public string Device { get; }

    /// <summary>What the driver did wrong.</summary>
    public string What { get; }
}
