
stdoutÐÌ¸Çšú¢õ
out line 4