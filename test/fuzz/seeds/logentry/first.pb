
stdout¼ô¶Çšú¢õstart stdout