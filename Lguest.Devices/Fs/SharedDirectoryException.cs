namespace Lguest.Devices;

/// <summary>A folder to share with the guest cannot be used: it does not exist, is not a directory, or the host refused to open it.</summary>
public sealed class SharedDirectoryException : LguestException
{
    internal SharedDirectoryException(string path, string reason)
        : base($"shared folder '{path}': {reason}")
    {
        Path = path;
    }

    /// <summary>The folder's path as given.</summary>
    public string Path { get; }
}
